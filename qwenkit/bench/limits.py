"""The measured run set against what the machine and the plan allow.

Pure functions of the result, what Ollama said about the model, and the hardware profile:
the decode ceiling, the memory the planner expected, how many parallel requests would fit,
and what queueing costs to remove. The planner is asked the same questions `qwenkit setup`
asked it, so "planned" means what setup would have planned for this tag and context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..catalog import ARCH, Architecture, quant_tag
from ..errors import QwenkitError
from ..hardware import HardwareProfile
from ..planner import Plan, plan
from ..planner._memory import kv_bytes_per_token
from .ceiling import Ceiling, gpu_bandwidth
from .result import BenchResult, Memory, Queueing

PARALLEL_STEPS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class ModelFacts:
    """What the server told us about the model (nothing for an OpenAI server)."""

    weights_bytes: int | None = None
    arch: Architecture = ARCH
    quant: str | None = None  # catalog spelling when the model is a qwen2.5:7b tag
    kv_cache_type: str = "f16"


def catalog_quant(family: str | None, parameter_size: str | None, level: str | None) -> str | None:
    """The catalog quantization when the model is Qwen2.5-7B (so the planner applies).

    >>> catalog_quant("qwen2", "7.6B", "Q4_K_M"), catalog_quant("qwen2", "494M", "F16")
    ('q4_K_M', None)
    """
    if family != "qwen2" or not (parameter_size or "").startswith("7.") or not level:
        return None
    try:
        return quant_tag("fp16" if level.upper() == "F16" else level).quant
    except QwenkitError:
        return None


def context_tokens(result: BenchResult) -> int:
    """The mean context while decoding: the prompt plus half the answer."""
    single = result.single
    prompts = [s.prompt_tokens for s in single.ok if s.prompt_tokens] if single else []
    prompt = sum(prompts) / len(prompts) if prompts else float(result.settings["prompt_tokens"])
    return round(prompt + float(result.settings["output_tokens"]) / 2)


def _plan(profile: HardwareProfile, quant: str, ctx: int, parallel: int = 1) -> Plan | None:
    """The planner's answer for this tag and context, or None if it cannot keep them."""
    try:
        chosen = plan(profile, target_ctx=ctx, quant=quant, parallel=parallel)
    except QwenkitError:
        return None
    return chosen if chosen.num_ctx == ctx else None


def memory_check(
    facts: ModelFacts, profile: HardwareProfile | None, size: int, vram: int, ctx: int | None
) -> Memory:
    """`/api/ps` figures with the planner's estimate beside them (when it applies).

    Without a GPU, a real Ollama v0.32 still reports a few hundred KiB of `size_vram` (its
    output buffer): that is a CPU load, not a partial offload."""
    if profile is not None and not profile.gpus:
        vram = 0
    if facts.quant is None or profile is None or ctx is None:
        note = "no planner estimate: the model is not a qwen2.5:7b-instruct tag"
        return Memory(size, vram, ctx, None, note)
    planned = _plan(profile, facts.quant, ctx)
    if planned is None:
        return Memory(size, vram, ctx, None, f"the planner would not run {facts.quant} at {ctx}")
    return Memory(size, vram, ctx, planned.estimate.total_bytes)


def memory_ceiling(facts: ModelFacts, profile: HardwareProfile | None, ctx: int) -> int | None:
    """The most parallel requests (`OLLAMA_NUM_PARALLEL`) the planner fits at this context."""
    if facts.quant is None or profile is None:
        return None
    best = None
    for parallel in PARALLEL_STEPS:
        chosen = _plan(profile, facts.quant, ctx, parallel)
        if chosen is None or chosen.offload == "partial":
            break
        best = parallel
    return best


def queueing(
    result: BenchResult, facts: ModelFacts, profile: HardwareProfile | None, ctx: int
) -> Queueing | None:
    """Queueing seen at some level, the setting that removes it, and its memory cost."""
    short = [lv for lv in result.levels if lv.concurrency > 1 and lv.served < lv.concurrency]
    if not short or not any(lv.served for lv in short):
        return None
    sent = max(lv.concurrency for lv in short)
    served = max(lv.served for lv in result.levels)
    if result.api != "ollama":
        setting = "the server's parallel-request limit (llama.cpp: --parallel)"
        return Queueing(sent, served, setting, None, None)
    extra = kv_bytes_per_token(facts.kv_cache_type, facts.arch) * ctx * (sent - served)
    fits = None
    if facts.quant is not None and profile is not None:
        wider, now = _plan(profile, facts.quant, ctx, sent), _plan(profile, facts.quant, ctx)
        fits = wider is not None and wider.offload != "partial"
        if wider is not None and now is not None:
            extra = wider.estimate.total_bytes - now.estimate.total_bytes
    return Queueing(sent, served, f"OLLAMA_NUM_PARALLEL={sent}", extra, fits)


def bandwidth(
    override: float | None,
    profile: HardwareProfile | None,
    memory: Memory | None,
    cpu_copy: Callable[[], float],
) -> tuple[float | None, str]:
    """GB/s the model's weights are read at, and where the figure comes from.

    With a partial offload, a token reads part of the weights from VRAM and the rest from
    RAM, one after the other: the effective figure is the harmonic mix of the two.
    """
    if override is not None:
        return override, "--bandwidth"
    if profile is None:
        return None, "the server is not this machine: pass --bandwidth GB/s for a ceiling"
    placement = memory.placement if memory else ("cpu" if not profile.gpus else "gpu")
    gpu = next(((g.name, bw) for g in profile.gpus if (bw := gpu_bandwidth(g.name))), None)
    if placement == "cpu" or (placement == "gpu" and not profile.gpus):
        return cpu_copy(), "measured: copy test on every core"
    if gpu is None:
        names = ", ".join(g.name for g in profile.gpus) or "no GPU found"
        return None, f"unknown GPU bandwidth ({names}): pass --bandwidth GB/s"
    if placement == "partial" and memory is not None and memory.size:
        share = memory.size_vram / memory.size
        cpu = cpu_copy()
        mixed = 1 / (share / gpu[1] + (1 - share) / cpu)
        return mixed, f"{gpu[0]} {gpu[1]:g} GB/s for {share:.0%}, CPU {cpu:.0f} GB/s for the rest"
    return gpu[1], f"table: {gpu[0]}"


def decode_ceiling(
    result: BenchResult, facts: ModelFacts, gbps: float | None, source: str
) -> tuple[Ceiling | None, str]:
    if gbps is None:
        return None, source
    if facts.weights_bytes is None:
        return None, "unknown model size (an OpenAI server does not say): no ceiling"
    kv = kv_bytes_per_token(facts.kv_cache_type, facts.arch)
    ceiling = Ceiling(gbps, source, facts.weights_bytes, kv, context_tokens(result))
    return ceiling, ""


__all__ = [
    "ModelFacts",
    "bandwidth",
    "catalog_quant",
    "context_tokens",
    "decode_ceiling",
    "memory_ceiling",
    "memory_check",
    "queueing",
]
