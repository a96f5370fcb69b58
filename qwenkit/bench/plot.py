"""`--plot FILE.png`: throughput and latency against concurrency.

matplotlib is an optional extra (`pip install 'qwenkit[plot]'`), imported only here and
only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BenchError
from .result import BenchResult

WRITE_HINT = "give a path in a folder you can write to"


def plot(result: BenchResult, path: Path) -> None:
    """Two panels: aggregate and per-request tokens/s; TTFT p50/p90 and ITL p50 (ms)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise BenchError("--plot needs matplotlib", hint="pip install 'qwenkit[plot]'") from None
    levels = result.levels
    xs = [lv.concurrency for lv in levels]
    fig, (speed, latency) = plt.subplots(1, 2, figsize=(10, 4))
    speed.plot(xs, [lv.aggregate_tps or 0 for lv in levels], "o-", label="aggregate")
    speed.plot(xs, [lv.speed.p50 or 0 for lv in levels], "s-", label="per request (p50)")
    if result.ceiling is not None:
        speed.axhline(result.ceiling.tokens_per_s, ls="--", c="gray", label="1-user ceiling")
    speed.set(xlabel="concurrent requests", ylabel="tokens/s", title=result.model)
    for name, values in (
        ("TTFT p50", [lv.ttft.p50 for lv in levels]),
        ("TTFT p90", [lv.ttft.p90 for lv in levels]),
        ("ITL p50", [lv.itl.p50 for lv in levels]),
    ):
        latency.plot(xs, [1000 * (v or 0) for v in values], "o-", label=name)
    latency.set(xlabel="concurrent requests", ylabel="ms", title="latency")
    for axes in (speed, latency):
        axes.set_xscale("log", base=2)
        axes.set_xticks(xs, [str(x) for x in xs])
        axes.legend()
        axes.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as err:
        raise BenchError(f"cannot write {path}: {err.strerror or err}", hint=WRITE_HINT) from None
    finally:
        plt.close(fig)


__all__ = ["plot"]
