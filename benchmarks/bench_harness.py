"""`qwenkit bench` is not the bottleneck: its load generator beside a bare httpx async loop.

    PYTHONPATH=. python benchmarks/bench_harness.py [--levels 1,8,64] [--rounds 3]

Both contenders stream from the instant fake (`_fake_ollama.py`, a separate process that
answers every chat with 200 token chunks as fast as it can), at each concurrency level, in
alternating order, `--rounds` times; the median aggregate tokens/s of each is reported with
the ratio (goal: qwenkit bench >= 95 % of the bare loop, up to 64 concurrent streams) and
the client CPU time per streamed token. The bare loop does the least a benchmark must:
`aiter_lines`, `json.loads`, and a clock read per token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx
from bench_client import start_server

from qwenkit.bench.endpoints import OllamaEndpoint
from qwenkit.bench.runner import Run, Settings
from qwenkit.client import AsyncClient

MODEL = "qwenkit-chat"
PROMPT_WORDS = 64


async def bare(host: str, concurrency: int, requests: int) -> tuple[int, float, float]:
    """(tokens, seconds, client CPU seconds) for a plain httpx loop."""
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=host, timeout=None, limits=limits) as client:
        left = iter(range(requests))
        tokens = 0
        now = asyncio.get_running_loop().time

        async def worker() -> None:
            nonlocal tokens
            for _ in left:
                async with client.stream("POST", "/api/chat", json=payload) as response:
                    async for line in response.aiter_lines():
                        if line:
                            chunk = json.loads(line)
                            now()
                            tokens += 1 if chunk["message"]["content"] else 0

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tokens, time.perf_counter() - start, time.process_time() - cpu


async def qwenkit_bench(host: str, concurrency: int, requests: int) -> tuple[int, float, float]:
    """The same load through `qwenkit bench`'s runner (one sweep level)."""
    settings = Settings(MODEL, (concurrency,), requests=requests, duration=3600).check()
    endpoint = OllamaEndpoint(AsyncClient(host), MODEL)
    run = Run(endpoint, settings, lambda _: None)
    run.origin = asyncio.get_running_loop().time()
    cpu = time.process_time()
    level = await run.level(concurrency, PROMPT_WORDS)
    used = time.process_time() - cpu
    await endpoint.aclose()
    assert level.errors == 0, level.samples[0].error
    return sum(s.chunks for s in level.ok), level.span, used


CONTENDERS: dict[str, Any] = {"bare httpx": bare, "qwenkit bench": qwenkit_bench}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="1,8,64")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    proc, host = start_server()
    try:
        print(f"{'streams':>7} {'contender':<14} {'tokens/s':>10} {'CPU us/token':>13} ratio")
        for level in (int(x) for x in args.levels.split(",")):
            requests = max(16, 4 * level)
            rates: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            cpus: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            for round_ in range(args.rounds):
                order = list(CONTENDERS) if round_ % 2 == 0 else list(reversed(CONTENDERS))
                for name in order:
                    tokens, seconds, cpu = asyncio.run(CONTENDERS[name](host, level, requests))
                    rates[name].append(tokens / seconds)
                    cpus[name].append(cpu / tokens * 1e6)
            base = statistics.median(rates["bare httpx"])
            for name in CONTENDERS:
                tps = statistics.median(rates[name])
                print(
                    f"{level:>7} {name:<14} {tps:>10.0f} {statistics.median(cpus[name]):>13.1f} "
                    f"{tps / base:>6.0%}"
                )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
