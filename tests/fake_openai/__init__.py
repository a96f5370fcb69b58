"""A vLLM-shaped OpenAI-compatible server for qwenkit's tests (never imported by `qwenkit/`).

    from tests.fake_openai import FakeOpenAI, Reply
    with FakeOpenAI(api_key="secret") as fake:
        ...  # talk to fake.base_url, then assert on fake.requests

Also runnable for the e2e tests and benchmarks: `python -m tests.fake_openai --port 0`
prints its URL on the first line.
"""

from .server import FakeOpenAI, Recorded, Reply, schema_instance

__all__ = ["FakeOpenAI", "Recorded", "Reply", "schema_instance"]
