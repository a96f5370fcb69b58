"""The planner's prediction against what a real Ollama allocates (`/api/ps` `size`).

    QWENKIT_LIVE_OLLAMA=http://127.0.0.1:11800 QWENKIT_LIVE_OLLAMA_BIN=/path/to/ollama \\
        pytest -m live tests/live/test_planner_calibration.py

A GGUF with Qwen2.5-7B's shapes and q4_K_M's types (`qwen7b_gguf`, zero weights) and its YaRN
copy are loaded at the contexts `qwenkit probe --quant q4_K_M` plans for 8K, 32K and 128K on
this machine, by servers this test starts itself (`own_server`: `OLLAMA_FLASH_ATTENTION` is read
at start-up), one per setting:

* "plan": the plan's `server_env`, which pins flash attention on;
* "unset": no variables, so the server decides (the plan says it turns flash attention on);
* "off": `OLLAMA_FLASH_ATTENTION=0`, planned with `allow_flash_attention=False`.

Every load must come within 10 % of the plan's `estimate.model_bytes`. Needs about 20 GB of
free disk (the server stores each 4.7 GB model twice) and 13 GB of free RAM for 128K; skipped
without them. CPUs with AMX: the runner's sapphirerapids variant crashed on such a VM (illegal
instruction) with q4_K weights; give it a dist without `libggml-cpu-sapphirerapids.so`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import qwenkit
from qwenkit.catalog import ARCH
from qwenkit.planner import Plan, plan
from tests.live.conftest import create
from tests.live.own_server import BIN_ENV, binary, own_ollama
from tests.live.qwen7b_gguf import write_qwen7b

pytestmark = pytest.mark.live

GiB = 1 << 30
BASE, LONG = "qwenkit-calibration", "qwenkit-calibration-yarn"
TARGETS = (8192, 32768, 131072)
DISK_NEEDED = 20 * GiB
TOLERANCE = 0.10


@dataclass(frozen=True)
class Load:
    """One model load and what the plan predicted for it."""

    setting: str
    target: int
    plan: Plan
    size: int  # /api/ps
    context_length: int  # /api/ps

    @property
    def error(self) -> float:
        return self.plan.estimate.model_bytes / self.size - 1


@pytest.fixture(scope="module")
def models_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding both calibration models, created by a first server."""
    if binary() is None:
        pytest.skip(f"set {BIN_ENV} to an ollama binary: this test restarts servers")
    home = tmp_path_factory.mktemp("calibration")
    if shutil.disk_usage(home).free < DISK_NEEDED:
        pytest.skip(f"needs {DISK_NEEDED / GiB:.0f} GiB of free disk at {home}")
    with own_ollama(home, {}) as url:
        for gguf in (
            write_qwen7b(home / f"{BASE}.gguf"),
            write_qwen7b(home / f"{LONG}.gguf", context_length=131072, yarn=(4.0, 32768)),
        ):
            create(url, gguf.stem, gguf)
            gguf.unlink()  # the server keeps its own copy
    return home


def _plans(profile: qwenkit.HardwareProfile, setting: str) -> Iterator[tuple[int, Plan]]:
    for target in TARGETS:
        flash = setting != "off"
        yield target, plan(profile, target_ctx=target, quant="q4_K_M", allow_flash_attention=flash)


def _load(url: str, chosen: Plan) -> tuple[int, int]:
    model = LONG if chosen.num_ctx > ARCH.context_length else BASE
    body = {"model": model, "prompt": "", "options": {"num_ctx": chosen.num_ctx}}
    httpx.post(f"{url}/api/generate", json=body, timeout=600).raise_for_status()
    try:
        running = httpx.get(f"{url}/api/ps", timeout=10).json()["models"]
        entry = next(m for m in running if m["name"].startswith(model))
        return int(entry["size"]), int(entry["context_length"])
    finally:
        httpx.post(f"{url}/api/generate", json={"model": model, "keep_alive": 0}, timeout=120)


def _server_env(setting: str) -> dict[str, str]:
    """What the server is started with: the plans' `server_env` (before a server runs to
    ask for its version; it is the same for every target), or nothing."""
    if setting == "unset":
        return {}
    _, first = next(_plans(qwenkit.probe(query_server=False), setting))
    return dict(first.server_env)


@pytest.mark.parametrize("setting", ["plan", "unset", "off"])
def test_plans_predict_what_ollama_allocates(models_home: Path, setting: str) -> None:
    loads: list[Load] = []
    env = _server_env(setting)
    with own_ollama(models_home, env) as url:
        for target, chosen in _plans(qwenkit.probe(host=url), setting):
            if env:
                assert chosen.server_env == env
            else:  # nothing pinned: the plan relies on the server's default
                assert chosen.flash_attention
                assert any("turns it on by itself" in r for r in chosen.reasons)
            size, context = _load(url, chosen)
            loads.append(Load(setting, target, chosen, size, context))
    report = "\n".join(_row(load) for load in loads)
    print(f"\n{report}")
    for load in loads:
        assert load.context_length == load.plan.num_ctx, report
        assert abs(load.error) <= TOLERANCE, report


def _row(load: Load) -> str:
    p = load.plan
    fa = "on" if p.flash_attention else "off"
    return (
        f"{load.setting:5} target {load.target:6} → num_ctx {p.num_ctx:6}, flash attention {fa}, "
        f"{p.kv_cache_type}, batch {p.num_batch:4}: predicted "
        f"{p.estimate.model_bytes / GiB:5.2f} GiB, /api/ps {load.size / GiB:5.2f} GiB "
        f"({load.error:+.1%})"
    )
