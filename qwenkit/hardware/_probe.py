"""What this machine has: GPUs, RAM, disk, CPU — and, when one answers, the Ollama server.

`probe()` asks every source it knows and never fails: a missing tool, a non-zero exit, a
hung driver (every command has a timeout) or garbled output leaves that field unknown and
adds a line to `profile.notes`. The command runner, the file reader and the environment are
injectable, so tests replay recorded outputs of real tools. The parsing lives in
`qwenkit.hardware._sources`, one small pure function per source.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._common.config import resolve_host
from ..errors import QwenkitError
from . import _sources as src
from ._profile import CommandRunner, CompletedResult, FileReader, HardwareProfile, LoadedModel

if TYPE_CHECKING:
    from ..client import Client

#: `(base_url, timeout) -> Client`: how the probe reaches the server (tests pass a fake).
Connect = Callable[[str, float], "Client"]

COMMAND_TIMEOUT = 3.0  # seconds; a healthy nvidia-smi answers in ~0.1-0.5 s
SERVER_TIMEOUT = 1.0
_POSIX = os.name == "posix"


def run_command(argv: Sequence[str], timeout: float) -> CompletedResult | None:
    """The real runner: no shell, a hard timeout, None when the tool is not installed.

    The tool runs in its own process group, so a timeout kills it *and* any helper it
    started; otherwise a grandchild holding the pipe open would keep us waiting.
    """
    exe = shutil.which(argv[0])
    if exe is None:
        return None
    try:
        proc = subprocess.Popen(
            [exe, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=_POSIX,
        )
    except OSError:
        return None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return CompletedResult(-9, "", f"timed out after {timeout:g}s", timed_out=True)
    return CompletedResult(proc.returncode, out, err)


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill a timed-out tool and its process group; wait briefly, never forever."""
    with contextlib.suppress(OSError):
        if _POSIX:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    # A process stuck in the kernel (a wedged driver) may outlive SIGKILL: give up on it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=1.0)


def read_text(path: str) -> str | None:
    """The real file reader: None for anything unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def probe(
    *,
    runner: CommandRunner | None = None,
    host: str | None = None,
    query_server: bool = True,
    read_file: FileReader | None = None,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    machine: str | None = None,
    disk_free: Callable[[str], int | None] | None = None,
    connect: Connect | None = None,
    stats: Callable[[], src.SystemStats] | None = None,
) -> HardwareProfile:
    """Look at this machine; see the module docstring. Never raises for a missing source.

    `system`/`machine` override `platform.system()`/`platform.machine()` and `disk_free`
    the free-space lookup, so a test can replay a Mac on Linux; `connect` opens the client
    that asks a listening server; `stats` reads RAM and cores where neither /proc (Linux) nor
    sysctl (macOS) exists, through psutil by default.
    """
    ctx = src.ProbeContext(
        run=runner or run_command,
        read=read_file or read_text,
        env=dict(os.environ if env is None else env),
        system=system or platform.system(),
        machine=machine or platform.machine(),
        timeout=COMMAND_TIMEOUT,
        stats=stats or src.psutil_stats,
    )
    facts = src.collect(ctx, disk_free=disk_free or src.disk_free_bytes)
    if query_server:
        server = resolve_host(host, ctx.env)
        facts.update(_query_server(server, ctx.notes, connect or connect_client))
    return HardwareProfile(**facts, notes=ctx.notes)


def _listening(base_url: str, timeout: float) -> bool:
    """A bare TCP connect: lets the probe skip importing the HTTP client when nothing listens."""
    split = urllib.parse.urlsplit(base_url)
    port = split.port or (443 if split.scheme == "https" else 80)
    try:
        with socket.create_connection((split.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def connect_client(base_url: str, timeout: float) -> Client:
    """The real `Connect`: a `qwenkit.Client`.

    Imported here rather than at the top: `qwenkit.planner` imports this package, and neither
    a plan nor a probe with nothing listening needs httpx + pydantic (`python -X importtime
    -c "import qwenkit.client"`: ~150 ms on the 2-core reference machine).
    """
    from ..client import Client

    return Client(base_url, timeout=timeout)


def _query_server(base_url: str, notes: list[str], connect: Connect) -> dict[str, Any]:
    """Version and loaded models from a running Ollama, or nothing (with a note)."""
    if not _listening(base_url, SERVER_TIMEOUT):
        notes.append(f"ollama: nothing listening at {base_url}")
        return {}
    try:
        with connect(base_url, SERVER_TIMEOUT) as client:
            version = client.version()
            running = client.ps().models
    except QwenkitError as exc:
        notes.append(f"ollama: not reachable ({exc})")
        return {}
    except Exception as exc:  # the probe never fails: an odd answer is a note, not a crash
        notes.append(f"ollama: query failed ({type(exc).__name__}: {exc})")
        return {}
    return {"ollama_version": version, "loaded": [LoadedModel.of(m) for m in running]}
