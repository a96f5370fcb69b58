"""Choose the tag, context, KV cache and server settings that fit a `HardwareProfile`.

`plan()` is pure: the same profile and arguments always give the same `Plan`. The search
follows `hardware-fit.md` §6.4 and the order the issue asks for:

1. the best tag from q8_0 down to q4_K_M that fits the target context with default server
   settings (flash attention off, f16 KV cache — what every Ollama version does unasked;
   above the native 32768 tokens flash attention is part of the default, see `_settings`);
2. if none does: the same walk with flash attention + a q8_0 KV cache (server settings
   `OLLAMA_FLASH_ATTENTION=1`, `OLLAMA_KV_CACHE_TYPE=q8_0`);
3. then shorter contexts, halving down to 4096;
4. only then tags below q4_K_M;
5. and when nothing fits a GPU, partial offload (GPU + RAM) — planned, but warned about.

"Fits" means the estimate (`qwenkit._memory`) stays within 90 % of the usable memory; the
10 % headroom absorbs the ±0.1 GB uncertainty of most tag sizes and the approximate compute
buffer, because a load that misses by a few MiB spills layers to the CPU and halves speed.
Without a GPU the plan stops at q4_K_M and 8-16K tokens: a CPU is limited by memory
bandwidth and prompt speed long before it runs out of RAM.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import _memory
from ._memory import Estimate, estimate, gpu_reserve
from .catalog import ARCH, DEFAULT_CTX, LADDER, LONG_CTX, GiB, MiB, quant_tag
from .errors import PlanError
from .hardware import GPU, HardwareProfile

HEADROOM = 0.10
#: Beyond Ollama's 457 MiB reserve, what a discrete GPU loses to the driver context, a
#: desktop compositor and fragmentation: together the 1 GiB of `hardware-fit.md` §6.1.
DISCRETE_MARGIN = GiB - _memory.GPU_RESERVE_DEFAULT
FRAGMENTATION = 128 * MiB
MIN_GPU_BYTES = GiB  # Ollama ignores smaller (integrated) GPUs
#: RAM kept for the OS, Open WebUI (~1 GiB) and a browser when the model runs from RAM.
CPU_RESERVE = 3 * GiB
CPU_RESERVE_OF_TOTAL = 5 * GiB  # when only the total is known
MIN_CTX = 4096
CPU_CTX = 8192
CPU_CTX_LARGE = 16384
CPU_LARGE_RAM = 24 * GiB
PARTIAL_CTX = 8192
FLOOR_QUANT = "q4_K_M"  # the planner goes below it only as a last resort
DISK_MARGIN = 512 * MiB


@dataclass(frozen=True)
class Settings:
    """The server-side knobs that change memory use."""

    flash_attention: bool = False
    kv_cache_type: str = "f16"


BASELINE = Settings()
LONG_BASELINE = Settings(flash_attention=True)


@dataclass(frozen=True)
class Plan:
    """What to pull and how to run it, with the numbers and the reasons."""

    tag: str
    quantization: str
    num_ctx: int
    kv_cache_type: str
    flash_attention: bool
    parallel: int
    server_env: dict[str, str]
    fits_in_gpu: bool
    offload: str  # "gpu", "partial" or "cpu"
    estimate: Estimate
    budget_bytes: int | None
    needs_yarn: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `plan` object of `qwenkit probe --json`."""
        return {
            "tag": self.tag,
            "quantization": self.quantization,
            "num_ctx": self.num_ctx,
            "kv_cache_type": self.kv_cache_type,
            "flash_attention": self.flash_attention,
            "parallel": self.parallel,
            "fits_in_gpu": self.fits_in_gpu,
            "offload": self.offload,
            "needs_yarn": self.needs_yarn,
            "budget_bytes": self.budget_bytes,
            "estimate": self.estimate.to_dict(),
            "server_env": dict(self.server_env),
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Device:
    """One GPU as the planner sees it: memory it may fill, and Ollama's fixed reserve."""

    name: str
    usable_bytes: int
    reserve_bytes: int
    unified: bool = False


@dataclass(frozen=True)
class _Candidate:
    quant: str
    num_ctx: int
    settings: Settings
    stage: str


@dataclass(frozen=True)
class _Request:
    """The arguments of one `plan()` call, resolved against the profile."""

    target_ctx: int
    parallel: int
    accel: Settings | None  # flash attention (+ q8_0 KV) when allowed
    ladder: tuple[str, ...]
    forced: bool
    devices: tuple[Device, ...]
    cpu_budget: int | None
    disk_skipped: tuple[str, ...] = ()  # better tags the free disk space cannot hold


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
        offload = _offload(req, cand)
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
    cand = _Candidate(quant, num_ctx, settings, "smaller")
    offload = _offload(req, cand) or ("partial" if req.devices else "cpu")
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
) -> _Request:
    if parallel < 1:
        raise PlanError(f"parallel must be at least 1, got {parallel}")
    if target_ctx is not None and not 1 <= target_ctx <= LONG_CTX:
        raise PlanError(
            f"context {target_ctx} is outside 1-{LONG_CTX}",
            hint=f"Qwen2.5-7B handles at most {LONG_CTX} tokens (with YaRN)",
        )
    devices = gpu_devices(profile)
    cpu_budget = ram_budget(profile)
    if target_ctx is None:
        target_ctx = DEFAULT_CTX if devices else _cpu_ctx(profile)
    accel = Settings(True, "q8_0" if allow_kvq else "f16") if allow_fa else None
    if quant is not None:
        ladder: tuple[str, ...] = (quant_tag(quant).quant,)
    else:
        ladder = (("fp16",) if allow_fp16 else ()) + LADDER
        if not devices:  # decode speed on a CPU: stop at q4_K_M
            ladder = tuple(q for q in ladder if _rank(q) <= _rank(FLOOR_QUANT))
    return _Request(target_ctx, parallel, accel, ladder, quant is not None, devices, cpu_budget)


def gpu_devices(profile: HardwareProfile) -> tuple[Device, ...]:
    """The GPUs a model can use, with what each can hold (see `DISCRETE_MARGIN`)."""
    gpus = [g for g in profile.gpus if (g.memory_total_bytes or 0) >= MIN_GPU_BYTES]
    loaded_vram = sum(m.size_vram for m in profile.loaded)
    share = loaded_vram // len(gpus) if gpus else 0
    return tuple(_device(g, share) for g in gpus)


def _device(gpu: GPU, loaded_share: int) -> Device:
    total = gpu.memory_total_bytes or 0
    margin = 0 if gpu.unified else DISCRETE_MARGIN
    if gpu.memory_free_bytes is not None and not gpu.unified:
        # Memory used by other programs (not by Ollama's own models, which it can unload).
        other = max(0, total - gpu.memory_free_bytes - loaded_share)
        margin = max(margin, other + FRAGMENTATION)
    return Device(gpu.name, total - margin, gpu_reserve(gpu.vendor), gpu.unified)


def ram_budget(profile: HardwareProfile) -> int | None:
    """RAM the model may use: available minus room for the OS, Open WebUI and a browser."""
    if profile.ram_available_bytes is not None:
        return max(0, profile.ram_available_bytes - CPU_RESERVE)
    if profile.ram_total_bytes is not None:
        return max(0, profile.ram_total_bytes - CPU_RESERVE_OF_TOTAL)
    return None


def _cpu_ctx(profile: HardwareProfile) -> int:
    return CPU_CTX_LARGE if (profile.ram_total_bytes or 0) >= CPU_LARGE_RAM else CPU_CTX


def _rank(quant: str) -> int:
    return quant_tag(quant).rank


def _disk_ladder(profile: HardwareProfile, req: _Request) -> tuple[str, ...]:
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


def _search(req: _Request) -> Iterator[_Candidate]:
    """Every candidate in order of preference (see the module docstring)."""
    floor = _rank(FLOOR_QUANT)
    top = [q for q in req.ladder if _rank(q) >= floor]
    low = [q for q in req.ladder if _rank(q) < floor]
    shorter = _halvings(req.target_ctx)
    for quant in top:
        yield _Candidate(quant, req.target_ctx, _settings(req, req.target_ctx)[0], "target")
    for settings in _settings(req, req.target_ctx)[1:]:
        for quant in top:
            yield _Candidate(quant, req.target_ctx, settings, "accelerated")
    for num_ctx in shorter:
        for settings in _settings(req, num_ctx):
            for quant in top:
                yield _Candidate(quant, num_ctx, settings, "shorter")
    for quant in low:  # below q4_K_M: the least-bad tag first, at the longest context
        for num_ctx in [req.target_ctx, *shorter]:
            for settings in _settings(req, num_ctx):
                yield _Candidate(quant, num_ctx, settings, "lower")
    if req.devices:
        yield from _partial_candidates(req, top + low)


def _settings(req: _Request, num_ctx: int) -> list[Settings]:
    """Default settings first, then the accelerated ones (if allowed and different).

    Above the native 32768 tokens flash attention is part of the default: without it the
    f32 attention scores alone take 7.3 GiB at 128K, and a long-context (YaRN) variant is
    a deliberate setup anyway. Planning it off would trade a whole quantization level for
    a buffer that does nothing useful.
    """
    base = BASELINE
    if num_ctx > ARCH.context_length and req.accel is not None:
        base = LONG_BASELINE
    if req.accel is None or req.accel == base:
        return [base]
    return [base, req.accel]


def _partial_candidates(req: _Request, ladder: list[str]) -> Iterator[_Candidate]:
    """Partial offload: q4_K_M (or the forced tag) first, at a CPU-friendly context."""
    preferred = [q for q in ladder if _rank(q) <= _rank(FLOOR_QUANT)] or ladder
    start = min(req.target_ctx, PARTIAL_CTX)
    for num_ctx in [start, *_halvings(start)]:
        for settings in reversed(_settings(req, num_ctx)):
            for quant in preferred:
                yield _Candidate(quant, num_ctx, settings, "partial")


def _halvings(num_ctx: int) -> list[int]:
    out, ctx = [], num_ctx // 2
    while ctx >= MIN_CTX:
        out.append(ctx)
        ctx //= 2
    return out


def _offload(req: _Request, cand: _Candidate) -> str | None:
    """Where `cand` fits ("gpu", "partial", "cpu"), or None."""
    if cand.stage == "partial":
        return "partial" if _fits_partial(req, cand) else None
    if req.devices:
        return "gpu" if _fits_gpus(req.devices, cand, req.parallel) else None
    if req.cpu_budget is None:  # nothing to check against: take the first (safest) choice
        return "cpu" if cand.quant == req.ladder[0] else None
    return "cpu" if _estimate(cand, req, "cpu").total_bytes <= _cap(req.cpu_budget) else None


def _cap(usable: int) -> int:
    return int(usable * (1 - HEADROOM))


def _estimate(cand: _Candidate, req: _Request, offload: str) -> Estimate:
    on_gpu = offload != "cpu"
    return estimate(
        cand.quant,
        cand.num_ctx,
        parallel=req.parallel,
        kv_cache_type=cand.settings.kv_cache_type,
        flash_attention=cand.settings.flash_attention,
        devices=len(req.devices) if on_gpu else 1,
        overhead_bytes=sum(d.reserve_bytes for d in req.devices) if on_gpu else 0,
        partial=offload == "partial",
    )


def _fits_gpus(devices: Sequence[Device], cand: _Candidate, parallel: int) -> bool:
    """One GPU: the whole estimate within the cap. Several: whole layers, split by room."""
    est = estimate(
        cand.quant,
        cand.num_ctx,
        parallel=parallel,
        kv_cache_type=cand.settings.kv_cache_type,
        flash_attention=cand.settings.flash_attention,
        devices=len(devices),
        overhead_bytes=sum(d.reserve_bytes for d in devices),
    )
    if len(devices) == 1:
        return est.total_bytes <= _cap(devices[0].usable_bytes)
    layers = ARCH.block_count + 1  # the output layer travels as one more block
    per_layer = (est.weights_bytes + est.kv_cache_bytes) / layers
    graph = est.compute_bytes // len(devices)
    room = [_cap(d.usable_bytes) - graph - d.reserve_bytes for d in devices]
    return sum(max(0, int(r // per_layer)) for r in room) >= layers


def _fits_partial(req: _Request, cand: _Candidate) -> bool:
    gpu = sum(_cap(d.usable_bytes) for d in req.devices)
    ram = _cap(req.cpu_budget) if req.cpu_budget is not None else 0
    unified = any(d.unified for d in req.devices)
    pool = max(gpu, ram) if unified else gpu + ram
    return _estimate(cand, req, "partial").total_bytes <= pool


# -- building the answer ----------------------------------------------------------------


def _build(profile: HardwareProfile, req: _Request, cand: _Candidate, offload: str) -> Plan:
    from ._plan_text import explain

    est = _estimate(cand, req, offload)
    budget = _budget(req, offload)
    env = server_env(cand.settings, req.parallel)
    reasons, warnings = explain(profile, req, cand, offload, est, budget, env)
    return Plan(
        tag=quant_tag(cand.quant).tag,
        quantization=cand.quant,
        num_ctx=cand.num_ctx,
        kv_cache_type=cand.settings.kv_cache_type,
        flash_attention=cand.settings.flash_attention,
        parallel=req.parallel,
        server_env=env,
        fits_in_gpu=offload == "gpu",
        offload=offload,
        estimate=est,
        budget_bytes=budget,
        needs_yarn=cand.num_ctx > ARCH.context_length,
        reasons=reasons,
        warnings=warnings,
    )


def _budget(req: _Request, offload: str) -> int | None:
    gpu = sum(d.usable_bytes for d in req.devices)
    if offload == "gpu":
        return gpu
    if offload == "cpu":
        return req.cpu_budget
    return gpu + (req.cpu_budget or 0)


def server_env(settings: Settings, parallel: int) -> dict[str, str]:
    """The Ollama server variables a plan relies on (global to the server)."""
    env = {"OLLAMA_NUM_PARALLEL": str(parallel)}
    if settings.flash_attention:
        env["OLLAMA_FLASH_ATTENTION"] = "1"
    if settings.kv_cache_type != "f16":
        env["OLLAMA_KV_CACHE_TYPE"] = settings.kv_cache_type
    return env


def _impossible(req: _Request) -> PlanError:
    quant = req.ladder[-1]
    cand = _Candidate(
        quant,
        MIN_CTX if req.target_ctx > MIN_CTX else req.target_ctx,
        req.accel or BASELINE,
        "impossible",
    )
    need = _estimate(cand, req, "partial" if req.devices else "cpu").total_bytes
    have = sum(d.usable_bytes for d in req.devices) + (req.cpu_budget or 0)
    what = f"{quant} at {cand.num_ctx} tokens" if req.forced else "even q2_K at 4096 tokens"
    return PlanError(
        f"{what} needs {_gib(need)} GiB; this machine has {_gib(have)} GiB to give it "
        f"({HEADROOM:.0%} kept as headroom)",
        hint="close other programs, choose a smaller --quant, or use a machine with more memory",
    )


def _gib(n: float) -> str:
    return f"{n / GiB:.1f}"
