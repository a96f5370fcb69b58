"""A faithful fake Ollama HTTP server for qwenkit's tests (never imported by `qwenkit/`).

    from tests.fake_ollama import FakeOllama
    with FakeOllama() as fake:
        fake.add_local_model("qwen2.5:7b-instruct-q4_K_M")
        ...  # talk to fake.url, then assert on fake.requests / fake.models / fake.loaded

Also runnable: `python -m tests.fake_ollama --port 0 --library` prints its URL and serves.
"""

from .faults import Faults, StatusFault
from .library import PLAIN_TEMPLATE, QWEN_TEMPLATE
from .server import QWEN_LIBRARY, FakeOllama
from .state import Loaded, LocalModel, Recorded, Reply

__all__ = [
    "PLAIN_TEMPLATE",
    "QWEN_LIBRARY",
    "QWEN_TEMPLATE",
    "FakeOllama",
    "Faults",
    "Loaded",
    "LocalModel",
    "Recorded",
    "Reply",
    "StatusFault",
]
