"""Benchmark: how long `qwenkit probe` takes on this machine.

Measures, in one run, the median wall time of
  * a bare interpreter start (`python -c pass`) — the floor every CLI pays,
  * `python -m qwenkit probe --offline` (no server query),
  * `python -m qwenkit probe` with OLLAMA_HOST pointing at a closed loopback port,
and in-process `probe(query_server=False)` and `plan(profile)`. The CLI figures are also given
as a ratio to the bare interpreter start, so they compare across machines.

    python benchmarks/bench_probe.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT_HOST = "127.0.0.1:9"  # the discard port: nothing listens here


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def median_of(rounds: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(rounds))


def in_process(rounds: int) -> tuple[float, float]:
    sys.path.insert(0, str(ROOT))
    from qwenkit.hardware import probe
    from qwenkit.planner import plan

    def timed(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    profile = probe(query_server=False)
    return (
        median_of(rounds, lambda: timed(lambda: probe(query_server=False))),
        median_of(rounds * 10, lambda: timed(lambda: plan(profile))),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    server_env = dict(env, OLLAMA_HOST=CLOSED_PORT_HOST)
    py = sys.executable
    bare = median_of(rounds, lambda: wall([py, "-c", "pass"], env))
    offline = median_of(rounds, lambda: wall([py, "-m", "qwenkit", "probe", "--offline"], env))
    online = median_of(rounds, lambda: wall([py, "-m", "qwenkit", "probe"], server_env))
    probe_s, plan_s = in_process(rounds)
    print(f"rounds: {rounds} (medians)")
    print(f"python -c pass                 {bare * 1000:7.1f} ms")
    print(f"qwenkit probe --offline        {offline * 1000:7.1f} ms  ({offline / bare:.1f}x bare)")
    print(f"qwenkit probe (closed port)    {online * 1000:7.1f} ms  ({online / bare:.1f}x bare)")
    print(f"probe(query_server=False)      {probe_s * 1000:7.1f} ms  in process")
    print(f"plan(profile)                  {plan_s * 1000:7.2f} ms  in process")


if __name__ == "__main__":
    main()
