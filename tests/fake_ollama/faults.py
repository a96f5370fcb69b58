"""Fault switches: make the fake misbehave the way a real server or network can."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StatusFault:
    """Answer `code` with `{"error": message}`; `times=None` means every time."""

    code: int
    message: str | None = None
    times: int | None = None


BUSY = "server busy, please try again.  maximum pending requests exceeded"
DEFAULT_STATUS_TEXT = {
    503: BUSY,
    500: "llama runner process has terminated: exit status 2",
    404: "404 page not found",
    499: "request canceled",
}


@dataclass
class Faults:
    """Switches that make the fake misbehave the way a real server or network can."""

    drop_pull_after: int | None = None  # close the pull connection after N bytes of a layer
    drop_pull_times: int = 1
    stall_pull_after: int | None = None  # stop sending for stall_seconds after N bytes
    stall_seconds: float = 0.0
    stall_pull_times: int = 1
    status: dict[str, int | tuple[int, str] | StatusFault] = field(default_factory=dict)
    midstream_error: str | None = None
    truncate_stream: bool | str = False  # True: end cleanly without done; "abort": cut
    # models whose runner gives up at once (Ollama 0.32 on invalid UTF-8, ollama-api.md §10):
    # a stream ends with no line, stream:false answers a zero value with done:false
    cut_models: list[str] = field(default_factory=list)
    disk_free_bytes: int | None = None
    _on_refuse: Callable[[], None] | None = field(default=None, repr=False)
    _on_restore: Callable[[], None] | None = field(default=None, repr=False)
    refused: bool = False

    def refuse(self) -> None:
        """Close the listening socket: new connections get 'connection refused'."""
        self.refused = True
        if self._on_refuse:
            self._on_refuse()

    def restore(self) -> None:
        """Listen again on the same port."""
        self.refused = False
        if self._on_restore:
            self._on_restore()

    def status_for(self, path: str) -> StatusFault | None:
        """The status fault armed for `path`, consuming one use of it."""
        raw = self.status.get(path)
        if raw is None:
            return None
        fault = StatusFault(raw) if isinstance(raw, int) else raw
        if isinstance(fault, tuple):
            fault = StatusFault(fault[0], fault[1])
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.status[path]
        return fault

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key.startswith("_") or not hasattr(self, key) or key == "refused":
                raise KeyError(f"unknown fault {key!r}")
            if key == "status":
                value = {
                    p: StatusFault(**v) if isinstance(v, dict) else v for p, v in value.items()
                }
            setattr(self, key, value)
