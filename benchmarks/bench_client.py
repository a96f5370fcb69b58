"""qwenkit client overhead, side by side with bare httpx and the official `ollama` client.

    PYTHONPATH=. python benchmarks/bench_client.py [--rounds 100] [--block 10] [--import-runs 15]

(`PYTHONPATH=.` makes sure the checkout is measured, not another install of qwenkit.)
Starts an instant fake Ollama on 127.0.0.1 in a child process, then times single calls,
in rounds of `--block` calls per contender (contenders in a random order each round), and
reports the median per contender:

* a non-streamed chat: bare `httpx` post + `json.loads` vs `qwenkit.Client.chat` vs `ollama`;
* a 200-chunk streamed chat: bare `httpx` `iter_lines` + `json.loads` vs qwenkit vs `ollama`;
* cold-process import: `import qwenkit; qwenkit.Client`, `qwenkit --help`, vs `import ollama`.

The goals (issue #3) are on the client process's CPU time, which other load on the machine
disturbs far less than wall time: chat ≤ 1.05x, stream ≤ 1.05x, import ≤ 0.75x, `--help` ≤ 0.5x."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import ollama

import qwenkit

MODEL = "qwenkit-chat"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
OPTIONS = {"temperature": 0.7, "num_ctx": 8192}


def start_server() -> tuple[subprocess.Popen[str], str]:
    script = Path(__file__).with_name("_fake_ollama.py")
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def contenders(host: str) -> dict[str, dict[str, Callable[[], object]]]:
    bare = httpx.Client(base_url=host, timeout=None)
    qk = qwenkit.Client(host)
    official = ollama.Client(host)
    payload = {"model": MODEL, "messages": MESSAGES, "options": OPTIONS}

    def bare_chat() -> object:
        return json.loads(bare.post("/api/chat", json={**payload, "stream": False}).content)

    def bare_stream() -> object:
        with bare.stream("POST", "/api/chat", json={**payload, "stream": True}) as response:
            return [json.loads(line) for line in response.iter_lines() if line]

    def qk_stream() -> object:
        stream = qk.chat(MODEL, MESSAGES, options=OPTIONS, stream=True)
        return list(stream)

    def official_stream() -> object:
        return list(official.chat(MODEL, MESSAGES, options=OPTIONS, stream=True))

    return {
        "chat": {
            "httpx + json.loads": bare_chat,
            "qwenkit": lambda: qk.chat(MODEL, MESSAGES, options=OPTIONS),
            "ollama": lambda: official.chat(MODEL, MESSAGES, options=OPTIONS),
        },
        "stream (200 chunks)": {
            "httpx iter_lines + json.loads": bare_stream,
            "qwenkit": qk_stream,
            "qwenkit + final()": lambda: qk.chat(
                MODEL, MESSAGES, options=OPTIONS, stream=True
            ).final(),
            "ollama": official_stream,
        },
    }


def cpu_and_wall(func: Callable[[], object]) -> tuple[float, float]:
    """Seconds for one call: this process's CPU time (robust on a busy host), and wall clock."""
    cpu, wall = time.process_time(), time.perf_counter()
    func()
    return time.process_time() - cpu, time.perf_counter() - wall


Row = tuple[str, str, float, float, float, float]


Contenders = Callable[[str], dict[str, dict[str, Callable[[], object]]]]


def bench_calls(rounds: int, block: int, host: str, make: Contenders = contenders) -> list[Row]:
    """Each round runs every contender for `block` calls in a row (as a script calling one
    client repeatedly would), contenders in a fresh random order, each call timed alone.
    A burst of load elsewhere or the caches one contender leaves to the next hit all of them
    alike, and the median of the single calls ignores the bursts."""
    rows = []
    shuffle = random.Random(3).shuffle
    for case, funcs in make(host).items():
        for func in funcs.values():  # warm up: connections, lazy model building
            for _ in range(20):
                func()
        cpus: dict[str, list[float]] = {name: [] for name in funcs}
        walls: dict[str, list[float]] = {name: [] for name in funcs}
        order = list(funcs)
        for _ in range(rounds):
            shuffle(order)
            for name in order:
                for _ in range(block):
                    cpu, wall = cpu_and_wall(funcs[name])
                    cpus[name].append(cpu)
                    walls[name].append(wall)
        base_cpu = statistics.median(next(iter(cpus.values())))
        base_wall = statistics.median(next(iter(walls.values())))
        for name in funcs:
            cpu, wall = statistics.median(cpus[name]), statistics.median(walls[name])
            rows.append((case, name, cpu * 1e6, cpu / base_cpu, wall * 1e6, wall / base_wall))
    return rows


def cold(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_imports(runs: int) -> list[tuple[str, str, float, float]]:
    py = sys.executable
    cases = {
        "python -c 'import ollama'": [py, "-c", "import ollama"],
        "python -c 'import qwenkit; qwenkit.Client'": [py, "-c", "import qwenkit; qwenkit.Client"],
        "qwenkit --help": [py, "-c", "import sys; from qwenkit.cli import main; main(['--help'])"],
        "python -c pass": [py, "-c", "pass"],
    }
    for cmd in cases.values():
        cold(cmd, 2)  # warm the page cache and .pyc files
    measured: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):  # interleave so background noise hits all alike
        for name, cmd in cases.items():
            measured[name].append(cold(cmd, 1))
    base = statistics.median(measured["python -c 'import ollama'"])
    return [
        ("import (cold process)", name, statistics.median(v) * 1e3, statistics.median(v) / base)
        for name, v in measured.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--block", type=int, default=10, help="calls in a row per round")
    parser.add_argument("--import-runs", type=int, default=15)
    args = parser.parse_args()
    proc, host = start_server()
    try:
        rows = bench_calls(args.rounds, args.block, host)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    calls = args.rounds * args.block
    print(f"qwenkit from {Path(qwenkit.__file__).parent}, ollama {ollama_version()}")
    print(f"client CPU and wall time per call: median of {calls} calls per contender,")
    print(f"{args.block} in a row per round, {args.rounds} rounds, contenders in random order")
    print(f"{'case':<21} {'contender':<42} {'CPU':>9} {'ratio':>6} {'wall':>9} {'ratio':>6}  goal")
    for case, name, cpu, cpu_ratio, wall, wall_ratio in rows:
        print(
            f"{case:<21} {name:<42} {cpu:>6.0f} µs {cpu_ratio:>5.2f}x {wall:>6.0f} µs "
            f"{wall_ratio:>5.2f}x  {verdict(case, name, cpu_ratio)}"
        )
    for case, name, millis, ratio in bench_imports(args.import_runs):
        print(
            f"{case:<21} {name:<42} {millis:>6.1f} ms {ratio:>5.2f}x {'':>16}  "
            f"{verdict(case, name, ratio)}"
        )


#: (case prefix, contender) -> the issue's bound on the ratio to the case's first row
GOALS = {
    ("chat", "qwenkit"): 1.05,
    ("stream", "qwenkit"): 1.05,
    ("import", "python -c 'import qwenkit; qwenkit.Client'"): 0.75,
    ("import", "qwenkit --help"): 0.5,
}


def ollama_version() -> str:
    from importlib.metadata import version

    return version("ollama")


def verdict(case: str, name: str, ratio: float) -> str:
    goal = GOALS.get((case.split()[0], name))
    if goal is None:
        return ""
    return f"≤ {goal:.2f}x {'ok' if ratio <= goal else 'MISSED'}"


if __name__ == "__main__":
    main()
