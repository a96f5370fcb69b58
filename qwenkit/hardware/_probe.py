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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._common.config import resolve_host
from ..errors import QwenkitError
from . import _sources as src


@dataclass(frozen=True)
class GPU:
    """One GPU; for Apple Silicon `memory_total_bytes` is the Metal working-set limit."""

    vendor: str  # "nvidia", "amd", "apple"
    name: str
    memory_total_bytes: int | None
    memory_free_bytes: int | None = None
    driver: str | None = None
    index: int = 0
    unified: bool = False  # shares system RAM (Apple Silicon)


@dataclass(frozen=True)
class LoadedModel:
    """A model the Ollama server has in memory (`/api/ps`)."""

    name: str
    size: int
    size_vram: int
    context_length: int | None = None


@dataclass(frozen=True)
class HardwareProfile:
    """Everything the planner needs; `None` means the probe could not tell."""

    gpus: list[GPU] = field(default_factory=list)
    ram_total_bytes: int | None = None
    ram_available_bytes: int | None = None
    disk_free_bytes: int | None = None
    models_dir: str | None = None
    os: str = ""
    arch: str = ""
    cpu_model: str | None = None
    cpu_cores: int | None = None
    cpu_flags: list[str] = field(default_factory=list)
    wsl: bool = False
    container: bool = False
    ollama_version: str | None = None
    loaded: list[LoadedModel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def cpu_only(self) -> bool:
        """No GPU whose memory we know."""
        return not any(g.memory_total_bytes for g in self.gpus)

    def to_dict(self) -> dict[str, Any]:
        """The `hardware` object of `qwenkit probe --json`."""
        return asdict(self)


@dataclass(frozen=True)
class CompletedResult:
    """What a command produced; `returncode` 0 means success."""

    returncode: int
    stdout: str
    stderr: str = ""
    timed_out: bool = False


#: `(argv, timeout_seconds) -> result`, or None when the tool is not installed.
CommandRunner = Callable[[Sequence[str], float], CompletedResult | None]
#: `path -> text`, or None when the file cannot be read.
FileReader = Callable[[str], str | None]

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
) -> HardwareProfile:
    """Look at this machine; see the module docstring. Never raises for a missing source.

    `system`/`machine` override `platform.system()`/`platform.machine()` and `disk_free`
    the free-space lookup, so a test can replay a Mac on Linux.
    """
    ctx = src.ProbeContext(
        run=runner or run_command,
        read=read_file or read_text,
        env=dict(os.environ if env is None else env),
        system=system or platform.system(),
        machine=machine or platform.machine(),
        timeout=COMMAND_TIMEOUT,
    )
    facts = src.collect(ctx, disk_free=disk_free or src.disk_free_bytes)
    if query_server:
        facts.update(_query_server(resolve_host(host, ctx.env), ctx.notes))
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


def _query_server(base_url: str, notes: list[str]) -> dict[str, Any]:
    """Version and loaded models from a running Ollama, or nothing (with a note)."""
    if not _listening(base_url, SERVER_TIMEOUT):
        notes.append(f"ollama: nothing listening at {base_url}")
        return {}
    from ..client import Client  # only now: the HTTP stack is not needed when nothing listens

    try:
        with Client(base_url, timeout=SERVER_TIMEOUT) as client:
            version = client.version()
            running = client.ps().models
    except QwenkitError as exc:
        notes.append(f"ollama: not reachable ({exc})")
        return {}
    except Exception as exc:  # the probe never fails: an odd answer is a note, not a crash
        notes.append(f"ollama: query failed ({type(exc).__name__}: {exc})")
        return {}
    loaded = [LoadedModel(m.name, m.size, m.size_vram, m.context_length) for m in running]
    return {"ollama_version": version, "loaded": loaded}
