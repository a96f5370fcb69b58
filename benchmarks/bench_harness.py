"""`qwenkit bench` is not the bottleneck: its load generator beside a bare httpx async loop.

    PYTHONPATH=. python benchmarks/bench_harness.py [--levels 1,8,64] [--rounds 21]
    PYTHONPATH=. python benchmarks/bench_harness.py --instructions   # callgrind counts

Both contenders stream from the same instant fake (`_fake_ollama.py`, a separate process that
answers every chat with 200 token chunks as fast as it can) under the same conditions, so the
ratio is the harness's own cost and nothing else:

* the same HTTP stack and connections: `httpx`, one client (so one kept-alive connection) per
  concurrent stream, as `qwenkit bench` does. A client shared by all streams would measure
  httpcore's pool instead, which scans every pooled connection for each request: at 64
  streams that alone tripled the CPU per token of both sides;
* warmed up alike: one untimed request per stream first (connections open, clients built);
* the same measurement from outside: wall and process CPU time around the load, tokens =
  the chunks that carried text (200 a request on both sides);
* interleaved: short trials, each round runs both back to back in alternating order, so a
  busy spell on this shared 2-core machine hits both sides of a pair.

Reported per level: the aggregate tokens/s and the client CPU µs per streamed token, median
and range over the rounds; then two ratios (goal: `qwenkit bench` >= 95 % of the bare loop,
up to 64 concurrent streams): tokens/s paired by round (median and range), and bare's
median CPU per token over ours, the throughput each side sustains when it has a core to
itself (the stable figure on a busy machine: wall time also counts others' load). The bare
loop does the least a benchmark must: `aiter_lines`, `json.loads`, a clock read per token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from bench_client import start_server

from qwenkit.bench.endpoints import OllamaEndpoint
from qwenkit.bench.runner import Run, Settings

MODEL = "qwenkit-chat"
PROMPT_WORDS = 64
Load = Callable[[int], Awaitable[int]]  # requests -> streamed chunks with text
Contender = Callable[[str, int], AbstractAsyncContextManager[Load]]


@asynccontextmanager
async def bare(host: str, concurrency: int) -> AsyncIterator[Load]:
    """A plain httpx loop: `concurrency` workers, each with its own client."""
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    tls = httpx.create_ssl_context()  # built once, as qwenkit bench does (set-up time only)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=host, timeout=None, verify=tls)
            )
            for _ in range(concurrency)
        ]
        now = asyncio.get_running_loop().time

        async def load(requests: int) -> int:
            left = iter(range(requests))
            tokens = 0

            async def worker(client: httpx.AsyncClient) -> None:
                nonlocal tokens
                for _ in left:
                    async with client.stream("POST", "/api/chat", json=payload) as response:
                        async for line in response.aiter_lines():
                            if line:
                                chunk = json.loads(line)
                                now()
                                tokens += 1 if chunk["message"]["content"] else 0

            await asyncio.gather(*(worker(client) for client in clients))
            return tokens

        yield load


@asynccontextmanager
async def qwenkit_bench(host: str, concurrency: int) -> AsyncIterator[Load]:
    """The same load through `qwenkit bench`'s endpoint and runner (one sweep level)."""
    endpoint = OllamaEndpoint(host, MODEL)
    run = Run(endpoint, Settings(MODEL, (concurrency,)), lambda _: None)
    run.origin = asyncio.get_running_loop().time()

    async def load(requests: int) -> int:
        run.settings = Settings(MODEL, (concurrency,), requests=requests, duration=3600).check()
        level = await run.level(concurrency, PROMPT_WORDS)
        assert level.errors == 0, level.samples[0].error
        return sum(s.chunks for s in level.ok)

    try:
        yield load
    finally:
        await run.aclose()
        await endpoint.aclose()


CONTENDERS: dict[str, Contender] = {"bare httpx": bare, "qwenkit bench": qwenkit_bench}


async def timed(load: Load, requests: int) -> list[float]:
    """[tokens/s, client CPU µs per token] of one load."""
    cpu, start = time.process_time(), time.perf_counter()
    tokens = await load(requests)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return [tokens / wall, used / tokens * 1e6]


async def rounds_at(
    level: int, host: str, requests: int, rounds: int
) -> dict[str, list[list[float]]]:
    """Both contenders set up and warmed up (a request per stream), then timed `rounds` times
    each, back to back and in alternating order, so a busy spell on the machine hits a pair."""
    async with AsyncExitStack() as stack:
        loads = {
            name: await stack.enter_async_context(contender(host, level))
            for name, contender in CONTENDERS.items()
        }
        for load in loads.values():
            await load(level)
        results: dict[str, list[list[float]]] = {name: [] for name in loads}
        for round_ in range(rounds):
            names = list(loads) if round_ % 2 == 0 else list(reversed(loads))
            for name in names:
                results[name].append(await timed(loads[name], requests))
        return results


def spread(values: list[float], fmt: str) -> str:
    """`median (min-max)`."""
    mid, low, high = statistics.median(values), min(values), max(values)
    return f"{mid:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def level_rows(level: int, results: dict[str, list[list[float]]]) -> list[str]:
    rows = [
        f"{level:>7}  {name:<14} {spread([r[0] for r in runs], '.0f'):>22}  "
        f"{spread([r[1] for r in runs], '.1f'):>18}"
        for name, runs in results.items()
    ]
    bare_runs, ours = results["bare httpx"], results["qwenkit bench"]
    paired = [q[0] / b[0] for q, b in zip(ours, bare_runs, strict=True)]  # same round
    by_cpu = statistics.median(r[1] for r in bare_runs) / statistics.median(r[1] for r in ours)
    rows.append(f"{level:>7}  {'ratio':<14} {spread(paired, '.0%'):>22}  {by_cpu:>18.0%}")
    return rows


#: one contender's load under callgrind: set up, warm up, then `requests` timed requests
UNDER_CALLGRIND = """
import asyncio, sys
sys.path[:0] = [{here!r}]
import bench_harness
from bench_client import start_server
proc, host = start_server()
async def go():
    async with bench_harness.CONTENDERS[{name!r}](host, {level}) as load:
        await load({level})
        assert await load({requests}) == 200 * {requests}
asyncio.run(go())
proc.stdin.close()
"""


def instructions_per_token(levels: list[int]) -> dict[tuple[str, int], float]:
    """Instructions of the client process per streamed token, for each contender and level:
    the difference between a load of `level` requests and one of `level + max(10, 2 level)`,
    so set-up, warm-up and start-up cancel out. Two valgrind processes at a time."""
    from bench_import_instructions import instructions

    here = str(Path(__file__).parent)
    extra = {level: max(10, 2 * level) for level in levels}
    jobs = {
        (name, level, n): UNDER_CALLGRIND.format(here=here, name=name, level=level, requests=n)
        for name in CONTENDERS
        for level in levels
        for n in (level, level + extra[level])
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(instructions, jobs.values()), strict=True))
    return {
        (name, level): (counts[name, level, level + extra[level]] - counts[name, level, level])
        / (200 * extra[level])
        for name in CONTENDERS
        for level in levels
    }


def main_instructions(levels: list[int]) -> None:
    counts = instructions_per_token(levels)
    print("client instructions per streamed token (callgrind; the same on a busy machine)")
    print(f"{'streams':>7}  {'bare httpx':>12}  {'qwenkit bench':>14}  ratio (bare / ours)")
    for level in levels:
        bare_count, ours = counts["bare httpx", level], counts["qwenkit bench", level]
        print(f"{level:>7}  {bare_count:>12,.0f}  {ours:>14,.0f}  {bare_count / ours:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="1,8,64")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument(
        "--requests", type=int, default=0, help="per trial (0: 2 per stream, >= 40)"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per token instead"
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if args.instructions:
        main_instructions(levels)
        return
    proc, host = start_server()
    try:
        print(f"200-chunk streams, {args.rounds} rounds: median (min-max) over the rounds;")
        print(
            "ratio: qwenkit bench / bare, tokens/s paired by round, and bare / ours CPU per token"
        )
        print(f"{'streams':>7}  {'contender':<14} {'tokens/s':>22}  {'CPU µs/token':>18}")
        for level in levels:
            requests = args.requests or max(40, 2 * level)
            results = asyncio.run(rounds_at(level, host, requests, args.rounds))
            print("\n".join(level_rows(level, results)), flush=True)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
