"""`run()`: calibrate, sweep the concurrency levels, then set the result against the limits.

The load generator is a few asyncio workers per level pulling prepared prompts from one
queue: prompts are built before the clock starts, and the per-token work is the endpoint's
loop alone, so the harness is not the bottleneck (see `benchmarks/bench_harness.py`). The
clock is the event loop's (`loop.time()`, monotonic), which also lets tests run whole
benchmarks on a virtual clock against scripted token timings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BenchError, InvalidRequestError, QwenkitError
from .endpoints import Endpoint
from .prompts import CALIBRATION_WORDS, Calibration, make_prompt
from .result import BenchResult, Level, Sample
from .stats import Target

Progress = Callable[[str], None]

DEFAULT_MODEL = "qwenkit-chat"
DEFAULT_CONCURRENCY = (1, 2, 4, 8)
MAX_CONCURRENCY = 1024
MAX_TOKENS = 1_000_000


@dataclass(frozen=True)
class Settings:
    """What to measure; `check()` refuses values that cannot make a benchmark."""

    model: str = DEFAULT_MODEL
    concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY
    prompt_tokens: int = 256
    output_tokens: int = 128
    requests: int | None = None  # per level; None: twice the concurrency, at least 4
    duration: float = 20.0  # seconds per level before no new request is started
    long_tokens: int | None = None
    bandwidth_gbps: float | None = None
    seed: int = 0
    cold: bool = False
    target: Target = field(default_factory=Target)

    def check(self) -> Settings:
        _need(
            bool(self.model.strip()), "the model name is empty", "e.g. qwenkit bench qwenkit-chat"
        )
        _need(bool(self.concurrency), "no concurrency level given", "e.g. --concurrency 1,2,4,8")
        for level in self.concurrency:
            _need(1 <= level <= MAX_CONCURRENCY, f"concurrency {level} is outside 1-1024", None)
        _need(1 <= self.prompt_tokens <= MAX_TOKENS, "--prompt-tokens must be 1-1000000", None)
        _need(1 <= self.output_tokens <= MAX_TOKENS, "--output-tokens must be 1-1000000", None)
        _need(self.requests is None or self.requests >= 1, "--requests must be at least 1", None)
        _need(0 < self.duration <= 86400, "--duration must be between 0 and 86400 s", None)
        long = self.long_tokens
        _need(long is None or 1 <= long <= MAX_TOKENS, "--long must be 1-1000000 tokens", None)
        bw = self.bandwidth_gbps
        _need(bw is None or 0 < bw < 1e6, "--bandwidth must be a positive GB/s figure", None)
        levels = tuple(sorted(set(self.concurrency) | {1}))  # single-user figures need level 1
        return Settings(**{**self.__dict__, "concurrency": levels})

    def requests_for(self, concurrency: int) -> int:
        return self.requests if self.requests is not None else max(4, 2 * concurrency)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "concurrency": list(self.concurrency)}


def _need(ok: bool, message: str, hint: str | None) -> None:
    if not ok:
        raise InvalidRequestError(message, hint=hint or "see `qwenkit bench --help`")


@dataclass
class Run:
    """One benchmark in progress: the endpoint, the clock, the prompts handed out so far."""

    endpoint: Endpoint
    settings: Settings
    progress: Progress
    origin: float = 0.0
    issued: int = 0  # prompts handed out (their seeds)
    lanes: list[Endpoint] = field(default_factory=list)  # one per concurrent stream
    failure: QwenkitError | None = None  # the last request's error, for `run_failed`

    def lane(self, index: int) -> Endpoint:
        """The endpoint of the `index`th concurrent stream; kept from level to level, so a
        stream's connection is opened once (the first is `endpoint` itself)."""
        while len(self.lanes) <= index:
            self.lanes.append(self.endpoint.lane() if self.lanes else self.endpoint)
        return self.lanes[index]

    async def aclose(self) -> None:
        """Close the lanes' clients (not `endpoint`'s: its owner closes it)."""
        for lane in self.lanes[1:]:
            await lane.aclose()
        del self.lanes[1:]

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.origin

    def prompts(self, words: int, count: int) -> list[tuple[int, str]]:
        seeds = range(self.settings.seed + self.issued, self.settings.seed + self.issued + count)
        self.issued += count
        return [(words, make_prompt(seed, words)) for seed in seeds]

    async def one(
        self, concurrency: int, job: tuple[int, str], max_tokens: int, lane: int = 0
    ) -> Sample:
        clock = asyncio.get_running_loop().time  # raw: one read a token, made relative below
        sample = Sample(concurrency, clock(), job[0])
        try:
            await self.lane(lane).stream(sample, job[1], max_tokens, clock)
        except QwenkitError as err:
            sample.error, self.failure = str(err), err
            sample.end = clock()
        return sample.since(self.origin)

    async def calibrate(self) -> tuple[Calibration, Sample]:
        """Two short requests; the first also carries the model's load time."""
        self.progress("calibrating the prompt length")
        first = await self.one(0, self.prompts(CALIBRATION_WORDS[0], 1)[0], 1)
        if first.error:
            raise run_failed(self.failure)
        second = await self.one(0, self.prompts(CALIBRATION_WORDS[1], 1)[0], 1)
        points = [(s.prompt_words, s.prompt_tokens) for s in (first, second) if s.prompt_tokens]
        if len(points) < 2:  # no counts (an OpenAI server without usage): words ≈ tokens
            return Calibration(0.0, 1.0), first
        return Calibration.fit(points), first

    async def level(self, concurrency: int, words: int) -> Level:
        """`requests_for(c)` requests, `c` at a time, until done or the time is up."""
        total = self.settings.requests_for(concurrency)
        jobs = iter(self.prompts(words, total))
        samples: list[Sample] = []
        deadline = self.now() + self.settings.duration
        out = self.settings.output_tokens

        async def worker(lane: int) -> None:
            for job in jobs:
                if samples and self.now() >= deadline:
                    return
                samples.append(await self.one(concurrency, job, out, lane))
                self.progress(f"concurrency {concurrency}: {len(samples)}/{total} requests")

        await asyncio.gather(*(worker(lane) for lane in range(concurrency)))
        samples.sort(key=lambda s: s.start)
        return Level(concurrency, samples, self.settings.target)


def run_failed(cause: QwenkitError | None) -> BenchError:
    """The error that stops a benchmark whose single-user requests fail: the request's
    hint and exit code (3 when nothing answers), raised `from` the request's error."""
    failure = BenchError(
        f"the benchmark's first request failed: {cause}",
        hint=(cause.hint if cause else None)
        or "check that the model answers: `qwenkit chat MODEL`",
    )
    if cause is not None:
        failure.exit_code, failure.__cause__ = cause.exit_code, cause
    return failure


async def sweep(run: Run, calibration: Calibration) -> list[Level]:
    """Every concurrency level in order; stops after a level where every request failed."""
    words = calibration.words_for(run.settings.prompt_tokens)
    levels = []
    for concurrency in run.settings.concurrency:
        level = await run.level(concurrency, words)
        levels.append(level)
        if not level.ok:
            if concurrency == 1:
                raise run_failed(run.failure)
            break
    return levels


async def long_prefill(run: Run, calibration: Calibration, tokens: int) -> Sample:
    """One request with a prompt of about `tokens` tokens: the prefill at that length."""
    run.progress(f"long prompt: about {tokens} tokens")
    job = run.prompts(calibration.words_for(tokens), 1)[0]
    return await run.one(1, job, run.settings.output_tokens)


async def measure(endpoint: Endpoint, settings: Settings, progress: Progress) -> BenchResult:
    """Calibrate, sweep, and the long prompt if asked: the timing half of a benchmark."""
    run = Run(endpoint, settings, progress)
    run.origin = asyncio.get_running_loop().time()
    try:
        calibration, first = await run.calibrate()
        cpu_start = time.process_time()
        levels = await sweep(run, calibration)
        client_cpu = time.process_time() - cpu_start
        long = None
        if settings.long_tokens:
            long = await long_prefill(run, calibration, settings.long_tokens)
    finally:
        await run.aclose()
    return BenchResult(
        model=settings.model,
        host="",
        api=endpoint.api,
        settings=settings.to_dict(),
        levels=levels,
        load_s=first.load_s,
        client_cpu_s=client_cpu,
        long=long,
        target=settings.target,
    )


__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_MODEL", "Run", "Settings", "measure"]
