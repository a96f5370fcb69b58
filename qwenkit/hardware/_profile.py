"""What a probe finds, as plain values: `HardwareProfile`, its `GPU`s and loaded models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


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
