"""What a probe finds, as plain values: `HardwareProfile`, its `GPU`s and loaded models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..types import RunningModel


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
    """A model the Ollama server has in memory: the one report type of an `/api/ps` entry
    (`types.RunningModel`), for the probe, the planner and `qwenkit status`."""

    name: str
    size: int
    size_vram: int
    context_length: int | None = None
    digest: str = ""  # of the model that loaded the runner, as it was then (Ollama 0.32)

    @classmethod
    def of(cls, running: RunningModel) -> LoadedModel:
        """From the wire model; an older server may leave `name` empty, then it is `model`."""
        name = running.name or running.model
        size, vram = int(running.size), int(running.size_vram)
        return cls(name, size, vram, running.context_length, running.digest)

    @property
    def vram_share(self) -> float:
        """How much of it sits in VRAM (1.0: all of it; below: partly on the CPU)."""
        return self.size_vram / self.size if self.size else 0.0


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
