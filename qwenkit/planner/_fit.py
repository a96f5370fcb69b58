"""Where a configuration fits: usable memory per device, and the fit checks.

The budget side of the planner (`qwenkit.planner` does the search and the wording). A GPU
may be filled up to its total minus `DRIVER_MARGIN` (or minus what other programs use,
when that is more) — what the server keeps free is part of the estimate — and a plan must
stay within 90 % of that (`HEADROOM`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import ARCH, GiB, quant_tag
from ..hardware import GPU, HardwareProfile
from ._calibration import DRIVER_MARGIN, FRAGMENTATION
from ._memory import Estimate, estimate
from ._server import ServerFacts, gpu_reserve, physical_batch

HEADROOM = 0.10
#: Search bounds shared by the planner and the wording of its reasons.
MIN_CTX = 4096  # the shortest context the planner will shorten to
FLOOR_QUANT = "q4_K_M"  # the planner goes below it only as a last resort
MIN_GPU_BYTES = GiB  # Ollama ignores smaller (integrated) GPUs
#: RAM kept for the OS, Open WebUI (~1 GiB) and a browser when the model runs from RAM.
CPU_RESERVE = 3 * GiB
CPU_RESERVE_OF_TOTAL = 5 * GiB  # when only the total is known


@dataclass(frozen=True)
class Settings:
    """The server-side knobs that change memory use (`server_env` pins both)."""

    flash_attention: bool = True
    kv_cache_type: str = "f16"


@dataclass(frozen=True)
class Device:
    """One GPU as the planner sees it: memory it may fill, and what the server keeps free."""

    name: str
    usable_bytes: int
    reserve_bytes: int
    unified: bool = False
    free_bytes: int = 0  # as Ollama counts it when it sizes the batch
    cuda: bool = False


@dataclass(frozen=True)
class Candidate:
    quant: str
    num_ctx: int
    settings: Settings
    stage: str


@dataclass(frozen=True)
class Request:
    """The arguments of one `plan()` call, resolved against the profile."""

    target_ctx: int
    parallel: int
    base: Settings  # flash attention unless disallowed, f16 KV
    accel: Settings | None  # + a q8_0 KV cache, when allowed
    ladder: tuple[str, ...]
    forced: bool
    devices: tuple[Device, ...]
    cpu_budget: int | None
    facts: ServerFacts
    disk_skipped: tuple[str, ...] = ()  # better tags the free disk space cannot hold


def gpu_devices(profile: HardwareProfile, facts: ServerFacts) -> tuple[Device, ...]:
    """The GPUs a model can use, with what each can hold (see `DRIVER_MARGIN`)."""
    gpus = [g for g in profile.gpus if (g.memory_total_bytes or 0) >= MIN_GPU_BYTES]
    loaded_vram = sum(m.size_vram for m in profile.loaded)
    share = loaded_vram // len(gpus) if gpus else 0
    return tuple(device_budget(g, share, facts) for g in gpus)


def device_budget(gpu: GPU, loaded_share: int, facts: ServerFacts) -> Device:
    total = gpu.memory_total_bytes or 0
    margin = 0 if gpu.unified else DRIVER_MARGIN
    free = total
    if gpu.memory_free_bytes is not None and not gpu.unified:
        # Memory used by other programs (not by Ollama's own models, which it can unload).
        other = max(0, total - gpu.memory_free_bytes - loaded_share)
        margin = max(margin, other + FRAGMENTATION)
        free = gpu.memory_free_bytes + loaded_share
    reserve = gpu_reserve(facts, gpu.vendor)
    return Device(gpu.name, total - margin, reserve, gpu.unified, free, cuda=gpu.vendor == "nvidia")


def ram_budget(profile: HardwareProfile) -> int | None:
    """RAM the model may use: available minus room for the OS, Open WebUI and a browser."""
    if profile.ram_available_bytes is not None:
        return max(0, profile.ram_available_bytes - CPU_RESERVE)
    if profile.ram_total_bytes is not None:
        return max(0, profile.ram_total_bytes - CPU_RESERVE_OF_TOTAL)
    return None


def offload_for(req: Request, cand: Candidate) -> str | None:
    """Where `cand` fits ("gpu", "partial", "cpu"), or None."""
    if cand.stage == "partial":
        return "partial" if fits_partial(req, cand) else None
    if req.devices:
        return "gpu" if fits_gpus(req, cand) else None
    if req.cpu_budget is None:  # nothing to check against: take the first (safest) choice
        return "cpu" if cand.quant == req.ladder[0] else None
    return "cpu" if estimate_for(cand, req, "cpu").total_bytes <= cap(req.cpu_budget) else None


def cap(usable: int) -> int:
    return int(usable * (1 - HEADROOM))


def batch_for(cand: Candidate, req: Request, offload: str) -> int:
    """The physical batch the server will run `cand` with (it sizes the compute buffer)."""
    devices = req.devices if offload != "cpu" else ()
    return physical_batch(
        req.facts,
        cand.num_ctx,
        req.parallel,
        weights_bytes=quant_tag(cand.quant).size_bytes,
        gpu_free_bytes=sum(d.free_bytes for d in devices),
        flash_attention=cand.settings.flash_attention,
        cuda_free_bytes=tuple(d.free_bytes for d in devices if d.cuda),
    )


def estimate_for(cand: Candidate, req: Request, offload: str) -> Estimate:
    devices = req.devices if offload != "cpu" else ()
    return estimate(
        cand.quant,
        cand.num_ctx,
        parallel=req.parallel,
        kv_cache_type=cand.settings.kv_cache_type,
        flash_attention=cand.settings.flash_attention,
        ubatch=batch_for(cand, req, offload),
        batch_logits=not req.facts.llama_server,
        gpus=len(devices),
        overhead_bytes=sum(d.reserve_bytes for d in devices),
        partial=offload == "partial",
    )


def fits_gpus(req: Request, cand: Candidate) -> bool:
    """One GPU: the whole estimate within the cap. Several: whole layers, split by room."""
    devices = req.devices
    est = estimate_for(cand, req, "gpu")
    if len(devices) == 1:
        return est.total_bytes <= cap(devices[0].usable_bytes)
    layers = ARCH.block_count + 1  # the output layer travels as one more block
    per_layer = (est.weights_bytes + est.kv_cache_bytes) / layers
    graph = est.compute_bytes // len(devices)
    room = [cap(d.usable_bytes) - graph - d.reserve_bytes for d in devices]
    return sum(max(0, int(r // per_layer)) for r in room) >= layers


def fits_partial(req: Request, cand: Candidate) -> bool:
    gpu = sum(cap(d.usable_bytes) for d in req.devices)
    ram = cap(req.cpu_budget) if req.cpu_budget is not None else 0
    unified = any(d.unified for d in req.devices)
    pool = max(gpu, ram) if unified else gpu + ram
    return estimate_for(cand, req, "partial").total_bytes <= pool


def budget_for(req: Request, offload: str) -> int | None:
    gpu = sum(d.usable_bytes for d in req.devices)
    if offload == "gpu":
        return gpu
    if offload == "cpu":
        return req.cpu_budget
    return gpu + (req.cpu_budget or 0)
