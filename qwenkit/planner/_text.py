"""The plain-language reasons and warnings attached to a `Plan` (pure string building)."""

from __future__ import annotations

from .._common.units import format_bytes
from ..catalog import ARCH, GiB, quant_tag
from ..hardware import HardwareProfile
from ._calibration import DEVICES
from ._fit import (
    CPU_RESERVE,
    FLOOR_QUANT,
    HEADROOM,
    MIN_CTX,
    Candidate,
    Request,
    Settings,
    batch_for,
    estimate_for,
)
from ._memory import Estimate


def explain(
    profile: HardwareProfile,
    req: Request,
    cand: Candidate,
    offload: str,
    est: Estimate,
    budget: int | None,
    env: dict[str, str],
) -> tuple[list[str], list[str]]:
    """Why this plan (`reasons`) and what to watch out for (`warnings`)."""
    batch = batch_for(cand, req, offload)
    reasons = [_budget_line(profile, req, offload), _need_line(cand, est, budget, batch)]
    reasons += _stage_lines(req, cand, offload)
    reasons += _quality_lines(req, cand, offload)
    reasons += _server_lines(req, cand, env)
    if req.disk_skipped:
        reasons.append(
            f"skipped {', '.join(req.disk_skipped)}: the download would not fit in the "
            f"{_g(profile.disk_free_bytes)} free at {profile.models_dir}"
        )
    if req.parallel > 1:
        reasons.append(
            f"each of the {req.parallel} parallel slots holds a full {cand.num_ctx}-token "
            f"context, so the KV cache is {req.parallel}x larger"
        )
    return reasons, _warnings(profile, req, cand, offload)


def _server_lines(req: Request, cand: Candidate, env: dict[str, str]) -> list[str]:
    """What the server does about flash attention and the KV cache, and what is pinned."""
    facts = req.facts
    lines = [facts.flash_attention_line(planned=cand.settings.flash_attention)]
    kv = cand.settings.kv_cache_type
    if kv != "f16":
        also = " and OLLAMA_FLASH_ATTENTION=1" if facts.kv_quant_needs_flash_env else ""
        lines.append(
            f"KV cache {kv}: needs OLLAMA_KV_CACHE_TYPE={kv}{also} on the server"
            + (f" (Ollama {facts.version} drops it otherwise)" if also and facts.known else "")
        )
    pairs = ", ".join(f"{k}={v}" for k, v in env.items())
    lines.append(f"server settings {pairs} apply to every model on that server")
    return lines


def _budget_line(profile: HardwareProfile, req: Request, offload: str) -> str:
    if req.devices and offload != "cpu":
        parts = [f"{d.name}: {_g(d.usable_bytes)} usable" for d in req.devices]
        return (
            "GPU memory — " + "; ".join(parts) + f" (after driver/desktop margins; the server "
            f"keeps {req.devices[0].reserve_bytes >> 20} MiB free per GPU; plans keep "
            f"{HEADROOM:.0%} headroom{_gpu_margin()})"
        )
    if req.cpu_budget is None:
        return "no usable GPU, and the RAM size is unknown: the model runs from RAM"
    have = profile.ram_available_bytes or profile.ram_total_bytes or 0
    return (
        f"no usable GPU: the model runs from RAM — {_g(have)} available, "
        f"{_g(req.cpu_budget)} usable after {CPU_RESERVE // GiB} GiB for the OS, Open WebUI "
        f"and a browser"
    )


def _gpu_margin() -> str:
    terms = DEVICES["gpu"]
    if terms.measured:
        return ""
    extra = float(terms.compute_factor - 1)
    return f"; GPU compute buffers get {extra:.0%} extra until measured on a GPU"


def _need_line(cand: Candidate, est: Estimate, budget: int | None, batch: int) -> str:
    of = f" of {_g(budget)}" if budget is not None else ""
    return (
        f"{cand.quant} at {cand.num_ctx} tokens needs {_g(est.total_bytes)}{of}: weights "
        f"{_g(est.weights_bytes)}, KV cache {_g(est.kv_cache_bytes)} "
        f"({cand.settings.kv_cache_type}), compute {_g(est.compute_bytes)} (flash attention "
        f"{'on' if cand.settings.flash_attention else 'off'}, {batch}-token batch)"
        + (f", kept free by the server {_g(est.overhead_bytes)}" if est.overhead_bytes else "")
    )


def _stage_lines(req: Request, cand: Candidate, offload: str) -> list[str]:
    floor = FLOOR_QUANT if not req.forced else cand.quant
    need = _total(req, floor, req.target_ctx, req.base, offload)
    default = f"{floor} would need {_g(need)} at {req.target_ctx} tokens with an f16 KV cache"
    if cand.stage == "target":
        return _better_line(req, cand, offload)
    if cand.stage == "accelerated":
        return [f"nothing fits with an f16 KV cache ({default}); a q8_0 KV cache halves the cache"]
    if cand.stage == "shorter":
        return [
            f"nothing fits {req.target_ctx} tokens ({default}); context shortened to {cand.num_ctx}"
        ]
    if cand.stage == "lower":
        return [
            f"nothing at {FLOOR_QUANT} or better fits even {MIN_CTX} tokens; "
            f"falling back to {cand.quant}, which costs answer quality"
        ]
    return []


def _better_line(req: Request, cand: Candidate, offload: str) -> list[str]:
    better = [q for q in req.ladder if quant_tag(q).rank > quant_tag(cand.quant).rank]
    if not better:
        return []
    nxt = better[-1]
    need = _total(req, nxt, cand.num_ctx, cand.settings, offload)
    return [f"{cand.quant} is the best tag that fits; {nxt} would need {_g(need)}"]


def _quality_lines(req: Request, cand: Candidate, offload: str) -> list[str]:
    if req.forced:
        return [f"{cand.quant} was requested"]
    if offload == "cpu":
        return [
            f"on a CPU, decode speed is bound by memory bandwidth: {FLOOR_QUANT} reads about "
            "half the bytes per token of q8_0, so it answers about twice as fast; bigger tags "
            "may fit in RAM but run slower"
        ]
    if cand.quant == "q8_0" and "fp16" not in req.ladder:
        return [
            "q8_0 is the top choice: fp16 reads twice the bytes per token (half the decode "
            "speed) for a quality gain that is hard to measure (allow it with allow_fp16)"
        ]
    return []


def _warnings(profile: HardwareProfile, req: Request, cand: Candidate, offload: str) -> list[str]:
    out: list[str] = []
    if offload == "cpu":
        out.append("no GPU: expect a few tokens per second, and minutes for long prompts")
    if offload == "partial":
        out.append(
            "the model does not fit entirely in GPU memory: part of it runs on the CPU, "
            "several times slower; a bigger GPU or a smaller context helps"
        )
    if cand.num_ctx < req.target_ctx:
        out.append(f"context shortened from {req.target_ctx} to {cand.num_ctx} tokens to fit")
    if cand.num_ctx > ARCH.context_length:
        out.append(
            f"{cand.num_ctx} tokens is beyond Qwen2.5's native {ARCH.context_length}: a YaRN "
            f"variant is required (Ollama clamps the stock model to {ARCH.context_length})"
        )
    if offload == "cpu" and req.cpu_budget is None:
        out.append("RAM size unknown: the fit could not be checked")
    if profile.disk_free_bytes is None:
        size = quant_tag(cand.quant).size_bytes
        out.append(f"free disk space unknown: the download needs {_g(size)}")
    return out


def _total(req: Request, quant: str, num_ctx: int, settings: Settings, offload: str) -> int:
    return estimate_for(Candidate(quant, num_ctx, settings, "probe"), req, offload).total_bytes


def _g(n: int | None) -> str:
    return "unknown" if n is None else format_bytes(n)
