"""The I/O around a benchmark: ask Ollama about the model, probe this machine, time the
load (`runner.measure`), then read `/api/ps` and hand everything to `limits`; `run` is the
synchronous entry point."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._common.config import is_local_host, resolve_host
from .._common.names import model_present
from ..client import AsyncClient
from ..hardware import HardwareProfile, probe
from ..types import RunningModel
from . import limits
from .ceiling import arch_from_model_info
from .endpoints import Endpoint, OllamaEndpoint
from .machine import copy_bandwidth, cpu_sampler
from .openai import OpenAIEndpoint, openai_base
from .result import BenchResult
from .runner import DEFAULT_CONCURRENCY, DEFAULT_MODEL, Progress, Settings, measure
from .stats import Target

if TYPE_CHECKING:
    import httpx


async def model_facts(client: AsyncClient, model: str) -> tuple[limits.ModelFacts, bool]:
    """Weights, shapes and quantization of `model`, and whether it is loaded already.
    An unknown model fails here, before any timing (`ModelNotFoundError`)."""
    shown = await client.show(model)
    listed = (await client.list()).models
    running = (await client.ps()).models
    size = next((m.size for m in listed if _same(m.name or m.model, model)), None)
    details = shown.details
    quant = limits.catalog_quant(
        details.family if details else None,
        details.parameter_size if details else None,
        details.quantization_level if details else None,
    )
    facts = limits.ModelFacts(size, arch_from_model_info(shown.model_info), quant)
    return facts, any(_same(m.name or m.model, model) for m in running)


def _same(name: str, wanted: str) -> bool:
    return model_present([name], wanted)


async def unload(client: AsyncClient, model: str) -> None:
    """Make the next request load the model from disk (`keep_alive: 0`)."""
    await client.chat(model, [], keep_alive=0)


def _running(models: list[RunningModel], model: str) -> RunningModel | None:
    return next((m for m in models if _same(m.name or m.model, model)), None)


async def benchmark(
    settings: Settings,
    host: str | None,
    openai_url: str | None,
    profile: HardwareProfile | None,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress,
) -> BenchResult:
    """The whole benchmark (see `qwenkit.bench.run`)."""
    endpoint: Endpoint
    facts, was_loaded, client = limits.ModelFacts(), None, None
    if openai_url:
        base = openai_base(openai_url)
        endpoint = OpenAIEndpoint(base, settings.model, transport=transport)
        await endpoint.check()
    else:
        base = resolve_host(host)
        ollama = OllamaEndpoint(base, settings.model, transport=transport)
        endpoint, client = ollama, ollama.client
    local = is_local_host(base)
    if profile is None and local and settings.bandwidth_gbps is None:
        progress("probing this machine")
        profile = await asyncio.to_thread(probe, query_server=False)
    try:
        if client is not None:
            facts, was_loaded = await model_facts(client, settings.model)
            if settings.cold and was_loaded:
                await unload(client, settings.model)
        sampler = cpu_sampler()
        result = await measure(endpoint, settings, progress)
        result.cpu_percent = sampler() if local else None
        running = _running((await client.ps()).models, settings.model) if client else None
    finally:
        await endpoint.aclose()
    result.host, result.was_loaded = base, (was_loaded and not settings.cold)
    await _against_limits(result, facts, profile if local else None, running, progress)
    return result


async def _against_limits(
    result: BenchResult,
    facts: limits.ModelFacts,
    profile: HardwareProfile | None,
    running: RunningModel | None,
    progress: Progress,
) -> None:
    ctx = limits.context_tokens(result)
    if running is not None:
        result.memory = limits.memory_check(
            facts, profile, running.size, running.size_vram, running.context_length
        )
        ctx_slot = running.context_length or ctx
        result.memory_ceiling = limits.memory_ceiling(facts, profile, ctx_slot)
        result.queueing = limits.queueing(result, facts, profile, ctx_slot)
    elif result.api == "openai":
        result.queueing = limits.queueing(result, facts, None, ctx)
        result.notes.append("OpenAI-compatible server: client-side timings only")

    measured: list[float] = []

    def cpu_copy() -> float:
        progress("measuring CPU memory bandwidth")
        measured.append(copy_bandwidth())
        return measured[-1]

    gbps, source = await asyncio.to_thread(
        limits.bandwidth, result.settings["bandwidth_gbps"], profile, result.memory, cpu_copy
    )
    result.ceiling, result.ceiling_note = limits.decode_ceiling(result, facts, gbps, source)


def run(
    model: str = DEFAULT_MODEL,
    *,
    host: str | None = None,
    openai_url: str | None = None,
    concurrency: Sequence[int] = DEFAULT_CONCURRENCY,
    prompt_tokens: int = 256,
    output_tokens: int = 128,
    requests: int | None = None,
    duration: float = 20.0,
    long_tokens: int | None = None,
    bandwidth_gbps: float | None = None,
    target: Target | None = None,
    seed: int = 0,
    cold: bool = False,
    profile: HardwareProfile | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
) -> BenchResult:
    """Benchmark `model` on Ollama at `host` (or any OpenAI-compatible server at
    `openai_url`) and return every sample with the figures made from them.

    `profile` replaces the hardware probe and `transport` the HTTP layer (tests)."""
    settings = Settings(
        model, tuple(concurrency), prompt_tokens, output_tokens, requests, duration,
        long_tokens, bandwidth_gbps, seed, cold, target or Target(),
    ).check()  # fmt: skip
    job = benchmark(settings, host, openai_url, profile, transport, progress or _quiet)
    return asyncio.run(job)


def _quiet(_: str) -> None:
    pass


__all__ = ["benchmark", "model_facts", "run"]
