"""The typed events `qwenkit.setup.run_setup` yields; `to_dict()` is their `--json` line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .._common.events import Event


@dataclass(frozen=True)
class Probed(Event):
    kind: ClassVar[str] = "probe"
    profile: dict[str, Any]


@dataclass(frozen=True)
class Planned(Event):
    kind: ClassVar[str] = "plan"
    plan: dict[str, Any]


@dataclass(frozen=True)
class ServerReached(Event):
    kind: ClassVar[str] = "server"
    host: str
    version: str


@dataclass(frozen=True)
class Notice(Event):
    """A warning or a note the user should read; it never stops the flow."""

    kind: ClassVar[str] = "warning"
    message: str
    level: str = "warning"


@dataclass(frozen=True)
class Proposal(Event):
    """What the run is about to do, shown before the confirmation."""

    kind: ClassVar[str] = "proposal"
    pull: str | None  # the tag to download; None when Ollama has it
    download_bytes: int
    models: list[dict[str, Any]]  # {"model", "action": created/updated/unchanged, "changes"}
    modelfiles: list[dict[str, str]]  # {"path", "action": create/unchanged/replace/keep}
    stays: list[str]  # what stays on disk afterwards


@dataclass(frozen=True)
class Cancelled(Event):
    kind: ClassVar[str] = "cancelled"
    reason: str = "plan not confirmed; nothing was changed"


@dataclass(frozen=True)
class ModelfileWritten(Event):
    kind: ClassVar[str] = "modelfile"
    model: str
    path: str
    result: str  # created / unchanged / replaced


@dataclass(frozen=True)
class ModelCreated(Event):
    kind: ClassVar[str] = "create"
    model: str
    action: str  # created / updated / unchanged
    detail: str = ""


@dataclass(frozen=True)
class Summary(Event):
    kind: ClassVar[str] = "summary"
    models: list[str]
    plan: dict[str, Any]
    modelfiles: list[str]
    checks: list[dict[str, Any]]
    server_env: dict[str, Any]
    webui: list[str]
    dry_run: bool = False

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c.get("status") == "fail"]


__all__ = [
    "Cancelled",
    "Event",
    "ModelCreated",
    "ModelfileWritten",
    "Notice",
    "Planned",
    "Probed",
    "ServerReached",
    "Summary",
]
