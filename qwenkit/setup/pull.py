"""Pulling the planned tag: one progress figure over all layers, and retries that resume.

Ollama keeps partial blobs on disk and continues them on the next `/api/pull`, so a dropped
connection or a stalled stream (a read timeout) is answered by pulling again after a back-off.
An `{"error": ...}` line is Ollama telling us something a retry cannot fix (unknown tag, disk
full, registry unreachable after its own retries), so it stops the pull with Ollama's words.

The byte accounting (`PullTracker`) is pure and clock-injected; `pull_model` is the only I/O.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .._common.disk import short_of_space
from .._common.events import Event
from .._common.retry import RetryPolicy
from ..errors import (
    OllamaTimeoutError,
    OllamaUnavailableError,
    ProtocolError,
    ResponseError,
    SetupError,
)

if TYPE_CHECKING:
    from ..client import Client

RATE_WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class PullEvent(Event):
    """Base of every pull event; a setup event, so `to_dict()` is its `--json` line."""

    kind: ClassVar[str] = "pull"
    model: str


@dataclass(frozen=True)
class PullSkipped(PullEvent):
    kind: ClassVar[str] = "pull_skipped"
    reason: str = "already present"


@dataclass(frozen=True)
class PullStatus(PullEvent):
    """A step without byte counts: `pulling manifest`, `verifying sha256 digest`, ..."""

    kind: ClassVar[str] = "pull_status"
    status: str = ""


@dataclass(frozen=True)
class PullProgress(PullEvent):
    """Bytes over all layers seen so far; `rate` in bytes/s, `eta` in seconds (None: unknown)."""

    kind: ClassVar[str] = "pull_progress"
    completed: int = 0
    total: int = 0
    rate: float = 0.0
    eta: float | None = None


@dataclass(frozen=True)
class PullRetry(PullEvent):
    kind: ClassVar[str] = "pull_retry"
    attempt: int = 1
    attempts: int = 1
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class PullDone(PullEvent):
    kind: ClassVar[str] = "pull_done"
    total: int = 0
    seconds: float = 0.0


@dataclass
class PullTracker:
    """Sums per-layer progress lines into one figure with a windowed rate and an ETA."""

    clock: Callable[[], float] = time.monotonic
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    @property
    def completed(self) -> int:
        return sum(done for _, done in self.layers.values())

    @property
    def total(self) -> int:
        return sum(total for total, _ in self.layers.values())

    def feed(self, digest: str, total: int, completed: int) -> None:
        """Record one progress line; a layer never goes backwards."""
        _, before = self.layers.get(digest, (0, 0))
        self.layers[digest] = (total, max(before, min(completed, total)))
        now = self.clock()
        self._samples.append((now, self.completed))
        while self._samples and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
            self._samples.popleft()

    def rate(self) -> float:
        """Bytes per second over the recent window (0 until two samples exist)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.total - self.completed) / rate if rate > 0 else None

    def restart_window(self) -> None:
        """After a retry the gap is not download time; start measuring afresh."""
        self._samples.clear()


def check_disk_space(free_bytes: int | None, need_bytes: int, *, model: str) -> None:
    """Refuse a pull that cannot fit, before any byte moves (`None` free: unknown, allow)."""
    problem = short_of_space(free_bytes, need_bytes, model)
    if problem is None:
        return
    raise SetupError(
        problem,
        step="pull",
        hint=(
            "free some space, point OLLAMA_MODELS at a larger disk (and restart Ollama), "
            "or choose a smaller quantization with --quant"
        ),
    )


_RETRYABLE = (OllamaUnavailableError, OllamaTimeoutError, ProtocolError)


def pull_model(
    client: Client,
    model: str,
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[PullEvent]:
    """Pull `model`, yielding progress; retry drops and stalls, stop on Ollama's errors."""
    policy = policy or RetryPolicy()
    tracker = PullTracker(clock=clock)
    started = clock()
    failures = 0
    while True:
        before = tracker.completed
        try:
            yield from _one_attempt(client, model, tracker)
        except _RETRYABLE as err:
            failures = policy.failed(failures, progressed=tracker.completed > before)
            if policy.gives_up(failures):
                raise _gave_up(model, err, policy.attempts) from err
            delay = policy.delay(failures)
            yield PullRetry(model, failures, policy.attempts, delay, _reason(err))
            sleep(delay)
            tracker.restart_window()
            continue
        except ResponseError as err:
            raise _ollama_refused(model, err) from err
        yield PullDone(model, total=tracker.total, seconds=clock() - started)
        return


def _one_attempt(client: Client, model: str, tracker: PullTracker) -> Iterator[PullEvent]:
    last_status = ""
    for line in client.pull(model, stream=True):
        status, digest, total = line.status or "", line.digest, line.total
        if digest and total:
            tracker.feed(digest, total, line.completed or 0)
            yield PullProgress(
                model, tracker.completed, tracker.total, tracker.rate(), tracker.eta()
            )
        elif status and status != last_status:
            yield PullStatus(model, status)
        last_status = status


def _reason(err: Exception) -> str:
    if isinstance(err, OllamaTimeoutError):
        return f"stalled: {err}"
    if isinstance(err, ProtocolError):
        return f"stream cut off: {err}"
    return f"connection lost: {err}"


def _gave_up(model: str, err: Exception, attempts: int) -> SetupError:
    return SetupError(
        f"pulling {model} failed {attempts} times in a row: {_reason(err)}",
        step="pull",
        hint=(
            "check the server and network, then rerun the same command: Ollama keeps the "
            "partial download and continues where it stopped"
        ),
    )


def _ollama_refused(model: str, err: ResponseError) -> SetupError:
    message = err.message
    lowered = message.lower()
    if "file does not exist" in lowered or "not found" in lowered:
        hint = f"the registry has no tag {model!r}; check --quant (see `qwenkit probe`)"
    elif "space" in lowered or "disk" in lowered:
        hint = "free disk space where Ollama keeps models (OLLAMA_MODELS), then rerun"
    else:
        hint = "rerun the same command once the cause is fixed; partial downloads are kept"
    return SetupError(f"Ollama could not pull {model}: {message}", step="pull", hint=hint)
