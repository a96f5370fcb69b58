"""Process handles for the end-to-end tests: a real Open WebUI and the fake Ollama.

Both bind 127.0.0.1 only, and every process started here is stopped here, by its own id.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = Path(__file__).with_name("install_openwebui.sh")
BOOT_TIMEOUT = 240.0

# open-webui.md §6.3: offline, no Hugging Face downloads, no telemetry, no OpenAI connection
OFFLINE_ENV = {
    "WEBUI_SECRET_KEY": "qwenkit-e2e-secret-key",
    "OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ENABLE_OPENAI_API": "False",
    "RAG_EMBEDDING_ENGINE": "ollama",
    "RAG_EMBEDDING_MODEL": "nomic-embed-text",
    "ENABLE_VERSION_UPDATE_CHECK": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], *, group: bool = False) -> None:
    """SIGTERM (to its own process group when it has one), then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    send = (lambda sig: os.killpg(proc.pid, sig)) if group else proc.send_signal
    with contextlib.suppress(ProcessLookupError):
        send(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            send(signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class FakeOllamaProcess:
    """`python -m tests.fake_ollama` in a subprocess, with its JSON-lines request log."""

    url: str
    log: Path
    proc: subprocess.Popen[str]

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e for e in entries if path is None or e["path"].split("?")[0] == path]

    def create(self, model: str, body: dict[str, Any]) -> None:
        """Create a model the way `qwenkit setup` does: POST /api/create."""
        response = httpx.post(
            f"{self.url}/api/create", json={**body, "model": model, "stream": False}, timeout=30
        )
        assert response.status_code == 200, response.text


@dataclass
class OpenWebUIProcess:
    """One `open-webui serve` on 127.0.0.1; `start()`/`stop()` may be repeated (restarts)."""

    venv: Path
    data_dir: Path
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **env: str) -> OpenWebUIProcess:
        self.port = free_port()
        full = {**os.environ, **OFFLINE_ENV, "DATA_DIR": str(self.data_dir), **self.env, **env}
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        argv = [str(self.venv / "bin" / "open-webui"), "serve", "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*argv, "--port", str(self.port)],
            cwd=self.data_dir,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so workers stop with it
        )
        log.close()
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Open WebUI exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"Open WebUI not healthy after {BOOT_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, group=True)
            self.proc = None


@contextlib.contextmanager
def open_webui(venv: Path, data_dir: Path, **env: str) -> Iterator[OpenWebUIProcess]:
    data_dir.mkdir(parents=True, exist_ok=True)
    server = OpenWebUIProcess(venv, data_dir, dict(env))
    try:
        yield server.start()
    finally:
        server.stop()


def run_qwenkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, with no OLLAMA_HOST / token leaking in from outside."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_HOST", "OPEN_WEBUI_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "qwenkit", *args],
        cwd=REPO,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
