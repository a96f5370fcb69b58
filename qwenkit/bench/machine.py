"""What the bench measures about this machine itself: CPU memory bandwidth and CPU use.

Both are I/O at the edge (numpy buffers, `/proc/stat`) kept out of the pure modules.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..hardware import read_text

COPY_BYTES = 64 << 20  # per thread: far larger than any CPU cache
COPY_SECONDS = 0.3


def copy_bandwidth(threads: int | None = None, *, seconds: float = COPY_SECONDS) -> float:
    """GB/s moved by large array copies on every core at once (reads + writes).

    llama.cpp decodes on every core, so one thread's copy would understate what the CPU can
    stream; numpy releases the GIL while copying, so threads run in parallel. A copy reads
    and writes each byte, so it moves twice the buffer size. The result is a little below the
    hardware's peak, like any measured bandwidth: treat the ceiling built on it as a floor
    of the true ceiling.
    """
    import numpy as np

    count = max(1, threads or os.cpu_count() or 1)
    per_thread = COPY_BYTES
    pairs = [(np.ones(per_thread, np.uint8), np.empty(per_thread, np.uint8)) for _ in range(count)]

    def worker(pair: tuple[np.ndarray, np.ndarray]) -> float:
        src, dst = pair
        np.copyto(dst, src)  # first touch: page faults are not bandwidth
        barrier.wait()
        moved, start = 0, time.perf_counter()
        while not moved or time.perf_counter() - start < seconds:
            np.copyto(dst, src)
            moved += 2 * src.nbytes
        return moved / (time.perf_counter() - start)

    barrier = threading.Barrier(count)
    with ThreadPoolExecutor(count) as pool:
        return sum(pool.map(worker, pairs)) / 1e9


@dataclass(frozen=True)
class CpuTimes:
    """Busy and total jiffies of all CPUs since boot (`/proc/stat`)."""

    busy: int
    total: int

    @classmethod
    def parse(cls, text: str) -> CpuTimes | None:
        """
        >>> CpuTimes.parse("cpu  100 0 50 800 50 0 0 0 0 0\\ncpu0 1 2 3 4")
        CpuTimes(busy=150, total=1000)
        """
        for line in text.splitlines():
            fields = line.split()
            if fields and fields[0] == "cpu":
                values = [int(v) for v in fields[1:9]]
                idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
                return cls(sum(values) - idle, sum(values))
        return None


def cpu_sampler(read: Callable[[str], str | None] = read_text) -> Callable[[], float | None]:
    """Start measuring; the returned function gives the machine's CPU use (0-100 %, all
    cores) since the start, or None where `/proc/stat` does not exist (macOS, Windows)."""
    text = read("/proc/stat")
    first = CpuTimes.parse(text) if text else None

    def usage() -> float | None:
        now_text = read("/proc/stat")
        now = CpuTimes.parse(now_text) if now_text else None
        if first is None or now is None or now.total <= first.total:
            return None
        return 100.0 * (now.busy - first.busy) / (now.total - first.total)

    return usage


__all__ = ["CpuTimes", "copy_bandwidth", "cpu_sampler"]
