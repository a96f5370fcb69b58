"""qwenkit client overhead, side by side with bare httpx and the official `ollama` client.

    python benchmarks/bench_client.py [--rounds 15] [--calls 200]

Starts an instant fake Ollama on 127.0.0.1 in a child process, then times, interleaved in
rounds (median of rounds, so drift hits every contender alike):

* a non-streamed chat: bare `httpx` post + `json.loads` vs `qwenkit.Client.chat` vs `ollama`;
* a 200-chunk streamed chat: bare `httpx` `iter_lines` + `json.loads` vs qwenkit vs `ollama`;
* cold-process import: `import qwenkit; qwenkit.Client`, `qwenkit --help`, vs `import ollama`.

Prints a table of times and ratios against the baseline. Goals (issue #3): chat ≤ 1.05x,
stream ≤ 1.05x, import ≤ 0.75x, `--help` ≤ 0.5x.
"""

from __future__ import annotations

import argparse
import json
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


def time_calls(func: Callable[[], object], calls: int) -> tuple[float, float]:
    """Seconds per call: wall clock, and this process's CPU time (robust on a busy host)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        func()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


Row = tuple[str, str, float, float, float, float]


def bench_calls(rounds: int, calls: int, host: str) -> list[Row]:
    rows = []
    for case, funcs in contenders(host).items():
        for func in funcs.values():  # warm up: connections, lazy model building
            time_calls(func, 20)
        walls: dict[str, list[float]] = {name: [] for name in funcs}
        cpus: dict[str, list[float]] = {name: [] for name in funcs}
        per_round = calls if case == "chat" else max(10, calls // 10)
        for _ in range(rounds):
            for name, func in funcs.items():
                wall, cpu = time_calls(func, per_round)
                walls[name].append(wall)
                cpus[name].append(cpu)
        base_wall = statistics.median(next(iter(walls.values())))
        base_cpu = statistics.median(next(iter(cpus.values())))
        for name in funcs:
            wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
            rows.append((case, name, wall * 1e6, wall / base_wall, cpu * 1e6, cpu / base_cpu))
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
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--import-runs", type=int, default=15)
    args = parser.parse_args()
    proc, host = start_server()
    try:
        rows = bench_calls(args.rounds, args.calls, host)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    head = (
        f"{'case':<22} {'contender':<44} {'wall':>10} {'ratio':>6} {'client CPU':>11} {'ratio':>6}"
    )
    print(head)
    for case, name, wall, wall_ratio, cpu, cpu_ratio in rows:
        print(
            f"{case:<22} {name:<44} {wall:>7.0f} µs {wall_ratio:>5.2f}x "
            f"{cpu:>8.0f} µs {cpu_ratio:>5.2f}x"
        )
    for case, name, millis, ratio in bench_imports(args.import_runs):
        print(f"{case:<22} {name:<44} {millis:>7.1f} ms {ratio:>5.2f}x")


if __name__ == "__main__":
    main()
