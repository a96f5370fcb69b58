"""Pure numbers from timed requests: percentiles, the latency target, capacity, queueing.

Nothing here reads a clock or the network; the runner hands in what it measured, so every
figure of a report can be checked against scripted timings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0-100), linearly interpolated between the closest ranks, as
    numpy's default does; None for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 90)
    (2.5, 3.7)
    >>> percentile([], 50) is None, percentile([7.0], 99)
    (True, 7.0)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    """p50/p90/p99 and the mean of one measured quantity (seconds or tokens/s)."""

    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        """
        >>> Spread.of([0.1, 0.2, 0.3]).p50
        0.2
        """
        data = list(values)
        mean = sum(data) / len(data) if data else None
        return cls(
            percentile(data, 50), percentile(data, 90), percentile(data, 99), mean, len(data)
        )

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """What counts as "fast enough" for one request: the first token within `ttft_s` and at
    least `tokens_per_s` after it, for `share` of the requests at a concurrency level."""

    ttft_s: float = 1.0
    tokens_per_s: float = 10.0
    share: float = 0.9

    def met_by(self, ttft_s: float | None, tokens_per_s: float | None) -> bool:
        """A failed request (no first token, no speed) never meets the target."""
        if ttft_s is None or tokens_per_s is None:
            return False
        return ttft_s < self.ttft_s and tokens_per_s >= self.tokens_per_s

    def describe(self) -> str:
        """
        >>> Target().describe()
        'first token < 1 s and >= 10 tokens/s for 90 % of requests'
        """
        return (
            f"first token < {self.ttft_s:g} s and >= {self.tokens_per_s:g} tokens/s "
            f"for {self.share * 100:g} % of requests"
        )


def share_meeting(target: Target, pairs: Iterable[tuple[float | None, float | None]]) -> float:
    """The fraction of requests (ttft, tokens/s) that meet `target`; 0 for none.

    >>> share_meeting(Target(), [(0.5, 20.0), (1.5, 20.0), (0.5, 5.0), (0.2, 11.0)])
    0.5
    """
    flags = [target.met_by(ttft, speed) for ttft, speed in pairs]
    return sum(flags) / len(flags) if flags else 0.0


def capacity(levels: Sequence[tuple[int, float]], target: Target) -> int:
    """The highest concurrency whose requests meet the target, with every lower level
    meeting it too (a level that fails caps the capacity even if a higher one passes by
    luck); 0 when even the first level fails. `levels` is (concurrency, share meeting).

    >>> capacity([(1, 1.0), (2, 0.95), (4, 0.5), (8, 0.92)], Target())
    2
    >>> capacity([(1, 0.5)], Target())
    0
    """
    best = 0
    for concurrency, share in sorted(levels):
        if share < target.share:
            break
        best = concurrency
    return best


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant; touching ends do not overlap (a server that
    starts the next answer as it finishes one works on one at a time).

    >>> peak_overlap([(0, 1), (1, 2), (2, 3)])
    1
    >>> peak_overlap([(0, 2), (1, 3), (1.5, 4), (3.5, 5)])
    3
    """
    events = []
    for start, end in intervals:
        if end > start:
            events.append((start, 1))
            events.append((end, -1))
    events.sort()  # at equal times, -1 sorts before +1: an end closes before a start opens
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def busy_share(intervals: Sequence[tuple[float, float]], span: float) -> float:
    """Sum of the interval lengths over `span`: the mean number of answers in progress.

    >>> busy_share([(0, 1), (0, 1)], 2.0)
    1.0
    """
    return sum(max(end - start, 0.0) for start, end in intervals) / span if span > 0 else 0.0


def rate(count: float, seconds: float | None) -> float | None:
    """`count / seconds`, or None when there is no time to divide by.

    >>> rate(10, 0.5), rate(10, 0), rate(3, None)
    (20.0, None, None)
    """
    if seconds is None or seconds <= 0:
        return None
    return count / seconds


__all__ = [
    "Spread",
    "Target",
    "busy_share",
    "capacity",
    "peak_overlap",
    "percentile",
    "rate",
    "share_meeting",
]
