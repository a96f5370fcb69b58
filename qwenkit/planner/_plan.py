"""Choose the tag, context, KV cache and server settings that fit a `HardwareProfile`.

`plan()` is pure: the same profile and arguments always give the same `Plan`. The search
follows `hardware-fit.md` §6.4 and the order the issue asks for:

1. the best tag from q8_0 down to q4_K_M that fits the target context with flash attention
   and an f16 KV cache — what Ollama ≥ 0.13.4 does unasked (`_server`); `server_env` pins
   `OLLAMA_FLASH_ATTENTION=1` for older servers (or `=0` when flash attention is not allowed);
2. if none does: the same walk with a q8_0 KV cache (`OLLAMA_KV_CACHE_TYPE=q8_0`);
3. then shorter contexts, halving down to 4096;
4. only then tags below q4_K_M;
5. and when nothing fits a GPU, partial offload (GPU + RAM) — planned, but warned about.

"Fits" means the estimate (`qwenkit.planner._memory`, calibrated against a real Ollama) stays
within 90 % of the usable memory; the 10 % headroom absorbs the ±0.1 GB uncertainty of most
tag sizes and what other programs allocate later, because a load that misses by a few MiB
spills layers to the CPU and halves speed.
Without a GPU the plan stops at q4_K_M and 8-16K tokens: a CPU is limited by memory
bandwidth and prompt speed long before it runs out of RAM.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .._common.disk import DISK_MARGIN
from ..catalog import ARCH, DEFAULT_CTX, LADDER, LONG_CTX, MIN_NUM_CTX, GiB, quant_tag
from ..errors import InvalidRequestError, PlanError
from ..hardware import HardwareProfile
from ._fit import (
    FLOOR_QUANT,
    HEADROOM,
    MIN_CTX,
    Candidate,
    Request,
    Settings,
    batch_for,
    budget_for,
    estimate_for,
    gpu_devices,
    offload_for,
    ram_budget,
)
from ._memory import Estimate
from ._server import server_facts
from ._text import explain

CPU_CTX = 8192
CPU_CTX_LARGE = 16384
CPU_LARGE_RAM = 24 * GiB
PARTIAL_CTX = 8192


@dataclass(frozen=True)
class Plan:
    """What to pull and how to run it, with the numbers and the reasons."""

    tag: str
    quantization: str
    num_ctx: int
    kv_cache_type: str
    flash_attention: bool
    parallel: int
    num_batch: int  # the physical batch the server will pick; the compute buffer grows with it
    fits_in_gpu: bool
    offload: str  # "gpu", "partial" or "cpu"
    needs_yarn: bool
    budget_bytes: int | None
    estimate: Estimate
    server_env: dict[str, str]
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `plan` object of `qwenkit probe --json` (every field, in this order)."""
        return asdict(self)


def plan(
    profile: HardwareProfile,
    *,
    target_ctx: int | None = None,
    quant: str | None = None,
    parallel: int = 1,
    allow_flash_attention: bool = True,
    allow_kv_quant: bool = True,
    allow_fp16: bool = False,
) -> Plan:
    """The best plan for `profile`; `PlanError` (with the numbers) when nothing can fit.

    `target_ctx=None` means 32768 with a GPU and 8192/16384 on a CPU (prompt speed, not
    memory, limits a CPU); an explicit value is honoured or shortened, never raised.
    """
    req = _resolve(
        profile, target_ctx, quant, parallel, allow_flash_attention, allow_kv_quant, allow_fp16
    )
    ladder = _disk_ladder(profile, req)
    skipped = tuple(q for q in req.ladder if q not in ladder)
    req = replace(req, ladder=ladder, disk_skipped=skipped)
    for cand in _search(req):
        offload = offload_for(req, cand)
        if offload is not None:
            return _build(profile, req, cand, offload)
    raise _impossible(req)


def smaller_plan(profile: HardwareProfile, current: Plan) -> Plan | None:
    """The next step down from `current` (verification found a partial offload), or None.

    Order per `hardware-fit.md` §6.5: q8_0 → q6_K → q5_K_M → q4_K_M, then halve the context
    (down to 4096), then q3_K_M and q2_K. Server settings stay as planned.
    """
    ladder = list(LADDER)
    rank = quant_tag(current.quantization).rank
    below = [q for q in ladder if quant_tag(q).rank < rank]
    floor_rank = quant_tag(FLOOR_QUANT).rank
    if below and rank > floor_rank:
        quant, num_ctx = below[0], current.num_ctx
    elif current.num_ctx > MIN_CTX:
        quant, num_ctx = current.quantization, max(MIN_CTX, current.num_ctx // 2)
    elif below:
        quant, num_ctx = below[0], current.num_ctx
    else:
        return None
    settings = Settings(current.flash_attention, current.kv_cache_type)
    req = _resolve(
        profile,
        num_ctx,
        quant,
        current.parallel,
        current.flash_attention,
        current.kv_cache_type != "f16",
        False,
    )
    req = replace(req, forced=False)  # a step the planner chose, not one the user asked for
    cand = Candidate(quant, num_ctx, settings, "smaller")
    offload = offload_for(req, cand) or ("partial" if req.devices else "cpu")
    stepped = _build(profile, req, cand, offload)
    note = (
        f"stepped down from {current.quantization} at {current.num_ctx} tokens, "
        "because the model did not fit entirely in GPU memory"
    )
    return replace(stepped, reasons=[note, *stepped.reasons])


# -- resolving the request --------------------------------------------------------------


def _resolve(
    profile: HardwareProfile,
    target_ctx: int | None,
    quant: str | None,
    parallel: int,
    allow_fa: bool,
    allow_kvq: bool,
    allow_fp16: bool,
) -> Request:
    if parallel < 1:
        raise InvalidRequestError(f"parallel must be at least 1, got {parallel}")
    if target_ctx is not None and not MIN_NUM_CTX <= target_ctx <= LONG_CTX:
        raise InvalidRequestError(
            f"context {target_ctx} is outside {MIN_NUM_CTX}-{LONG_CTX}",
            hint=f"Qwen2.5-7B handles at most {LONG_CTX} tokens (with YaRN)",
        )
    facts = server_facts(profile.ollama_version)
    devices = gpu_devices(profile, facts)
    cpu_budget = ram_budget(profile)
    if target_ctx is None:
        target_ctx = DEFAULT_CTX if devices else _cpu_ctx(profile)
    base = Settings(flash_attention=allow_fa)
    accel = Settings(True, "q8_0") if allow_fa and allow_kvq else None
    if quant is not None:
        ladder: tuple[str, ...] = (quant_tag(quant).quant,)
    else:
        ladder = (("fp16",) if allow_fp16 else ()) + LADDER
        if not devices:  # decode speed on a CPU: stop at q4_K_M
            ladder = tuple(q for q in ladder if _rank(q) <= _rank(FLOOR_QUANT))
    forced = quant is not None
    return Request(target_ctx, parallel, base, accel, ladder, forced, devices, cpu_budget, facts)


def _cpu_ctx(profile: HardwareProfile) -> int:
    return CPU_CTX_LARGE if (profile.ram_total_bytes or 0) >= CPU_LARGE_RAM else CPU_CTX


def _rank(quant: str) -> int:
    return quant_tag(quant).rank


def _disk_ladder(profile: HardwareProfile, req: Request) -> tuple[str, ...]:
    """Drop tags the disk cannot hold; a forced or last tag that cannot fit is an error."""
    free = profile.disk_free_bytes
    if free is None:
        return req.ladder
    fits = tuple(q for q in req.ladder if quant_tag(q).size_bytes + DISK_MARGIN <= free)
    if fits:
        return fits
    need = quant_tag(req.ladder[-1]).size_bytes + DISK_MARGIN
    where = profile.models_dir or "the models directory"
    raise PlanError(
        f"not enough disk space for {req.ladder[-1]}: needs {_gib(need)} GiB, "
        f"{_gib(free)} GiB free at {where}",
        hint="free some space, or point OLLAMA_MODELS at a larger disk",
    )


# -- searching --------------------------------------------------------------------------


def _search(req: Request) -> Iterator[Candidate]:
    """Every candidate in order of preference (see the module docstring)."""
    floor = _rank(FLOOR_QUANT)
    top = [q for q in req.ladder if _rank(q) >= floor]
    low = [q for q in req.ladder if _rank(q) < floor]
    shorter = _halvings(req.target_ctx)
    for quant in top:
        yield Candidate(quant, req.target_ctx, req.base, "target")
    for settings in _settings(req)[1:]:
        for quant in top:
            yield Candidate(quant, req.target_ctx, settings, "accelerated")
    for num_ctx in shorter:
        for settings in _settings(req):
            for quant in top:
                yield Candidate(quant, num_ctx, settings, "shorter")
    for quant in low:  # below q4_K_M: the least-bad tag first, at the longest context
        for num_ctx in [req.target_ctx, *shorter]:
            for settings in _settings(req):
                yield Candidate(quant, num_ctx, settings, "lower")
    if req.devices:
        yield from _partial_candidates(req, top + low)


def _settings(req: Request) -> list[Settings]:
    """The baseline (flash attention, f16 KV) first, then a q8_0 KV cache if allowed."""
    return [req.base] if req.accel is None else [req.base, req.accel]


def _partial_candidates(req: Request, ladder: list[str]) -> Iterator[Candidate]:
    """Partial offload: q4_K_M (or the forced tag) first, at a CPU-friendly context."""
    preferred = [q for q in ladder if _rank(q) <= _rank(FLOOR_QUANT)] or ladder
    start = min(req.target_ctx, PARTIAL_CTX)
    for num_ctx in [start, *_halvings(start)]:
        for settings in reversed(_settings(req)):
            for quant in preferred:
                yield Candidate(quant, num_ctx, settings, "partial")


def _halvings(num_ctx: int) -> list[int]:
    out, ctx = [], num_ctx // 2
    while ctx >= MIN_CTX:
        out.append(ctx)
        ctx //= 2
    return out


# -- building the answer ----------------------------------------------------------------


def _build(profile: HardwareProfile, req: Request, cand: Candidate, offload: str) -> Plan:
    est = estimate_for(cand, req, offload)
    budget = budget_for(req, offload)
    env = server_env(cand.settings, req.parallel)
    num_batch = batch_for(cand, req, offload)
    reasons, warnings = explain(profile, req, cand, offload, est, budget, env)
    return Plan(
        tag=quant_tag(cand.quant).tag,
        quantization=cand.quant,
        num_ctx=cand.num_ctx,
        kv_cache_type=cand.settings.kv_cache_type,
        flash_attention=cand.settings.flash_attention,
        parallel=req.parallel,
        num_batch=num_batch,
        server_env=env,
        fits_in_gpu=offload == "gpu",
        offload=offload,
        estimate=est,
        budget_bytes=budget,
        needs_yarn=cand.num_ctx > ARCH.context_length,
        reasons=reasons,
        warnings=warnings,
    )


def server_env(settings: Settings, parallel: int) -> dict[str, str]:
    """The Ollama server variables a plan relies on (global to the server).

    Flash attention is always pinned: it changes the compute buffer several-fold, and
    what a server does unasked depends on its version and GPUs (`_server`).
    """
    env = {
        "OLLAMA_NUM_PARALLEL": str(parallel),
        "OLLAMA_FLASH_ATTENTION": "1" if settings.flash_attention else "0",
    }
    if settings.kv_cache_type != "f16":
        env["OLLAMA_KV_CACHE_TYPE"] = settings.kv_cache_type
    return env


def _impossible(req: Request) -> PlanError:
    quant = req.ladder[-1]
    cand = Candidate(
        quant,
        MIN_CTX if req.target_ctx > MIN_CTX else req.target_ctx,
        req.accel or req.base,
        "impossible",
    )
    need = estimate_for(cand, req, "partial" if req.devices else "cpu").total_bytes
    have = sum(d.usable_bytes for d in req.devices) + (req.cpu_budget or 0)
    what = (
        f"{quant} at {cand.num_ctx} tokens"
        if req.forced
        else f"even {quant} at {cand.num_ctx} tokens"
    )
    return PlanError(
        f"{what} needs {_gib(need)} GiB; this machine has {_gib(have)} GiB to give it "
        f"({HEADROOM:.0%} kept as headroom)",
        hint="close other programs, choose a smaller --quant, or use a machine with more memory",
    )


def _gib(n: float) -> str:
    return f"{n / GiB:.1f}"
