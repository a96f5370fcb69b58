"""A private `ollama serve` for live tests that need server settings of their own.

Settings such as `OLLAMA_FLASH_ATTENTION` are read when the server starts, so a test that
compares them restarts a server per setting. It starts the binary named by
QWENKIT_LIVE_OLLAMA_BIN on loopback (port QWENKIT_LIVE_OLLAMA_PORT, else a free one), with
its own models directory so restarts reuse what the first one created, and none of the
caller's OLLAMA_* variables. The server's log is kept next to the models for a failing test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN_ENV = "QWENKIT_LIVE_OLLAMA_BIN"
PORT_ENV = "QWENKIT_LIVE_OLLAMA_PORT"
START_TIMEOUT = 30.0


def binary() -> str | None:
    return os.environ.get(BIN_ENV) or None


@contextmanager
def own_ollama(home: Path, settings: Mapping[str, str]) -> Iterator[str]:
    """Run the server with `settings` in its environment; yields its URL, stops it after."""
    exe = binary()
    if exe is None:
        raise RuntimeError(f"{BIN_ENV} is not set")
    port = int(os.environ.get(PORT_ENV) or _free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env |= {
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(home / "models"),
        "HOME": str(home / "home"),
        "OLLAMA_NO_CLOUD": "1",
        **settings,
    }
    (home / "home").mkdir(parents=True, exist_ok=True)
    with (home / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [exe, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, proc)
            yield url
        finally:  # the whole group: the server and the llama-server it runs
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ollama serve exited with {proc.returncode}")
        try:
            httpx.get(f"{url}/api/version", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"ollama serve did not answer at {url} within {START_TIMEOUT:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
