"""Benchmark: a second `qwenkit setup` against a server that already has everything.

The goal (issue #5): under two seconds, and nothing pulled or created. One run measures:
  * a bare interpreter start (`python -c pass`) — the floor every CLI pays;
  * `python -m qwenkit setup --yes --json` against the fake Ollama after a first run
    (median of N rounds, the full CLI: probe, plan, server, pull check, Modelfiles, show,
    and the verification chats);
  * the same with `--dry-run`, i.e. without any server traffic;
and counts the `/api/pull` and `/api/create` requests the reruns made (must be 0).

    python benchmarks/bench_setup_rerun.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_ollama import FakeOllama  # noqa: E402 - needs ROOT on sys.path


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def wall(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=cli_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    setup = [sys.executable, "-m", "qwenkit", "setup", "--yes", "--json"]
    with FakeOllama(version="0.20.7") as fake, tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        fake.add_library()
        first = wall([*setup, "--host", fake.url], cwd)
        mark = len(fake.requests)
        reruns = [wall([*setup, "--host", fake.url], cwd) for _ in range(args.rounds)]
        writes = [r.path for r in fake.requests[mark:] if r.path in ("/api/pull", "/api/create")]
        dry = [wall([*setup, "--dry-run"], cwd) for _ in range(args.rounds)]
    bare = statistics.median(wall([sys.executable, "-c", "pass"], ROOT) for _ in range(args.rounds))
    rerun = statistics.median(reruns)
    print(f"python -c pass            {bare:6.3f} s")
    print(f"setup, first run          {first:6.3f} s  (pull + create + verify on the fake)")
    print(f"setup, rerun (median)     {rerun:6.3f} s  = {rerun / bare:4.1f}x interpreter start")
    print(f"setup --dry-run (median)  {statistics.median(dry):6.3f} s")
    print(f"pull/create requests during {args.rounds} reruns: {len(writes)}")
    verdict = "OK" if rerun < 2.0 and not writes else "MISSED"
    print(f"goal: rerun < 2 s and pulls nothing -> {verdict}")


if __name__ == "__main__":
    main()
