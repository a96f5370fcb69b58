"""Fixtures for the end-to-end tests: the cached Open WebUI venv and the fake Ollama process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import INSTALL, REPO, FakeOllamaProcess, stop_process


@pytest.fixture(scope="session")
def owui_venv() -> Path:
    """The cached Open WebUI venv; installs it on first use (minutes, ~3 GB, CPU torch)."""
    done = subprocess.run(
        ["bash", str(INSTALL)], capture_output=True, text=True, timeout=3600, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"installing Open WebUI failed:\n{done.stderr[-3000:]}")
    venv = Path(done.stdout.strip().splitlines()[-1])
    assert (venv / "bin" / "open-webui").exists()
    return venv


@pytest.fixture(scope="module")
def fake_ollama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeOllamaProcess]:
    log = tmp_path_factory.mktemp("fake") / "requests.jsonl"
    cmd = [sys.executable, "-m", "tests.fake_ollama", "--port", "0", "--library"]
    cmd += ["--models", "qwen2.5:7b-instruct-q4_K_M", "--log", str(log)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"fake Ollama did not start: {url!r}"
        yield FakeOllamaProcess(url, log, proc)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()
