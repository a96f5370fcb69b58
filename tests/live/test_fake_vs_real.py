"""The fake proven: one scenario against `tests.fake_ollama` and a real Ollama, compared.

Every difference is either fixed in the fake or listed in `KNOWN` with its reason. With
`QWENKIT_LIVE_RECORD=1` the real exchanges are also written to `tests/fixtures/ollama/`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from tests.fake_ollama import FakeOllama
from tests.live import scenario
from tests.live.conftest import LiveModels, create
from tests.live.tiny_gguf import FORBID, tiny_qwen2

pytestmark = pytest.mark.live

#: Differences the fake keeps on purpose: step -> reason.
KNOWN: dict[str, str] = {
    "bad_json": "the error text of a malformed body is Go's encoding/json message; the fake "
    "gives Python's (same status, same {error} shape; no client reads the text)",
}


def _prepare(url: str, names: LiveModels, folder: Path) -> None:
    """The models the scenario uses besides its own, created the same way on either server."""
    from qwenkit.catalog import STOP_TOKENS
    from qwenkit.variants import QWEN25_TEMPLATE

    create(url, names.cut, folder / "cut.gguf")
    qwen = {"template": QWEN25_TEMPLATE, "parameters": {"stop": list(STOP_TOKENS)}}
    create(url, names.tools, folder / "tiny.gguf", **qwen)


def test_fake_answers_like_the_real_server(live_host: str, live_models: LiveModels, tmp_path):
    # new to the server (blob 404 first), and never ending on its own: every answer stops at
    # num_predict on both servers, so done_reason is comparable
    seed = int.from_bytes(os.urandom(4), "little")
    fresh = tiny_qwen2(tmp_path / "fresh.gguf", seed=seed, end_boost=FORBID)
    data = fresh.read_bytes()
    blob = ("sha256:" + hashlib.sha256(data).hexdigest(), data)
    names = live_models
    steps = scenario.steps(names.cut, blob, names.tools)
    real = scenario.run(live_host, steps)
    httpx.request("DELETE", f"{live_host}/api/delete", json={"model": scenario.FOCUS})
    with FakeOllama(version=real["version"].body["version"]) as fake:
        _prepare(fake.url, names, names.gguf_dir)
        fake.faults.cut_models = [names.cut]  # the real one emits invalid UTF-8
        fake_answers = scenario.run(fake.url, steps)
    if os.environ.get("QWENKIT_LIVE_RECORD"):
        scenario.record(real)
    differences = scenario.compare(fake_answers, real)
    unexplained = {step: diff for step, diff in differences.items() if step not in KNOWN}
    assert not unexplained, "\n".join(f"{s}: {d}" for s, d in unexplained.items())
