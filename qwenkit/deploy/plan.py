"""Choose how vLLM should serve Qwen2.5-7B-Instruct on a set of identical GPUs.

`plan_vllm()` is pure: a `HardwareProfile` (or an explicit `--vram`) and the user's choices in,
a `VllmPlan` with the numbers and the reasons out. The search:

1. the GPU: the smallest NVIDIA GPU the probe found (every rank holds the same share), or the
   one described by `vram_bytes`/`compute_capability` when planning for another machine;
2. checkpoints best quality first — bf16, fp8 (compute capability ≥ 8.9), GPTQ int8, AWQ,
   GPTQ int4 — skipping those the GPU has no kernel for;
3. for each, the fewest GPUs per model copy (tensor parallel 1, 2 or 4: Qwen2.5-7B's 28
   attention heads and 18944-wide MLP split no other way) whose KV cache holds at least
   `min_sequences` sequences at the planned context; the remaining GPUs and nodes become
   data-parallel replicas behind vLLM's own load balancer;
4. nothing reaches `min_sequences`: the configuration with the most sequences (at least one),
   with a warning; none holds one: `PlanError` with the numbers.

`strategy="split"` skips the search over tensor-parallel sizes: one copy of the model across
every GPU (tensor parallel within a node, pipeline parallel across nodes through Ray).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..catalog import ARCH, DEFAULT_CTX, LONG_CTX, YARN_FACTOR, GiB, MiB
from ..errors import PlanError
from ..hardware import HardwareProfile
from .checkpoints import CHECKPOINTS, Checkpoint, checkpoint, compute_capability
from .memory import KV_DTYPE_BYTES, GpuBudget, gpu_budget

DEFAULT_UTILIZATION = 0.90
DEFAULT_MIN_SEQUENCES = 4
DEFAULT_PORT = 8000
DEFAULT_SERVED_NAME = "qwen2.5-7b-instruct"
#: Tensor-parallel sizes that divide 28 attention heads and the 18944-wide MLP evenly
#: (7, 14 and 28 divide the heads but not the quantized MLP's 128-wide groups).
TENSOR_PARALLEL_SIZES = (1, 2, 4)
MIN_CONTEXT = 256
FP8_MIN_COMPUTE = 8.9
BF16_MIN_COMPUTE = 8.0
#: Memory other programs must leave free beyond what vLLM asks for (fragmentation).
FREE_SLACK = 256 * MiB
ROPE_THETA = 1_000_000.0  # Qwen2.5's `rope_theta`; an override replaces the whole dict
STRATEGIES = ("auto", "replicas", "split")
_SERVED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
#: An IPv4 address or a DNS name: it is written into shell commands and compose files.
_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*")


@dataclass(frozen=True)
class TargetGpu:
    """The GPU every rank runs on."""

    name: str
    total_bytes: int
    free_bytes: int | None
    compute_capability: float | None
    count: int  # GPUs per node


@dataclass(frozen=True)
class Topology:
    """How the GPUs are used: `replicas` copies of the model, each over TP × PP GPUs."""

    nodes: int
    gpus_per_node: int
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int

    @property
    def kind(self) -> str:
        """`single`, `tensor` (one copy over several GPUs), `pipeline` (over nodes) or
        `replicas` (data parallel)."""
        if self.pipeline_parallel > 1:
            return "pipeline"
        if self.replicas > 1:
            return "replicas"
        return "tensor" if self.tensor_parallel > 1 else "single"

    @property
    def replicas_per_node(self) -> int:
        return self.gpus_per_node // self.tensor_parallel if self.pipeline_parallel == 1 else 1


@dataclass(frozen=True)
class VllmPlan:
    """A vLLM deployment: checkpoint, context, memory settings, topology, and why."""

    model: str  # Hugging Face repository
    quantization: str  # `Checkpoint.name`
    served_name: str
    context: int
    kv_cache_dtype: str
    dtype: str | None  # `--dtype` when the checkpoint's bf16 cannot run (compute < 8.0)
    quantization_flag: str | None
    utilization: float
    gpu: TargetGpu
    topology: Topology
    budget: GpuBudget  # the most loaded GPU of one replica
    sequences: int  # full-context sequences across every replica
    hf_overrides: dict[str, Any] | None
    port: int
    head_address: str | None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def yarn(self) -> bool:
        return self.hf_overrides is not None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["topology"]["kind"] = self.topology.kind
        return out


def plan_vllm(
    profile: HardwareProfile,
    *,
    gpus: int | None = None,
    nodes: int = 1,
    context: int | None = None,
    quant: str = "auto",
    strategy: str = "auto",
    kv_cache_dtype: str = "auto",
    utilization: float | None = None,
    vram_bytes: int | None = None,
    compute: float | None = None,
    min_sequences: int = DEFAULT_MIN_SEQUENCES,
    served_name: str = DEFAULT_SERVED_NAME,
    port: int = DEFAULT_PORT,
    head_address: str | None = None,
) -> VllmPlan:
    """The vLLM deployment for `profile`; `PlanError` (exit 4) when nothing can work."""
    _check_args(nodes, context, strategy, kv_cache_dtype, min_sequences, served_name, port)
    if nodes > 1 and not head_address:
        raise PlanError(
            "a deployment over several nodes needs the head node's address",
            hint="pass --head-address with an IP address or hostname the other nodes can reach",
        )
    if head_address is not None and not _HOST.fullmatch(head_address):
        raise PlanError(
            f"head address {head_address!r} is not an IPv4 address or a hostname",
            hint="pass the address the other nodes reach the head at, e.g. 10.0.0.1",
        )
    gpu = _target_gpu(profile, gpus, vram_bytes, compute)
    ctx = context or DEFAULT_CTX
    util, util_reason = _utilization(gpu, utilization)
    reasons = [_gpu_reason(gpu, nodes), util_reason]
    warnings: list[str] = []
    candidates = _checkpoints(quant, gpu, reasons, warnings)
    choice = _search(candidates, gpu, nodes, ctx, kv_cache_dtype, util, strategy, min_sequences)
    ckpt, topo, budget = choice
    plan = VllmPlan(
        model=ckpt.repo,
        quantization=ckpt.name,
        served_name=served_name,
        context=ctx,
        kv_cache_dtype=kv_cache_dtype,
        dtype=_dtype(ckpt, gpu),
        quantization_flag=ckpt.quantization_flag,
        utilization=util,
        gpu=gpu,
        topology=topo,
        budget=budget,
        sequences=budget.sequences * topo.replicas,
        hf_overrides=yarn_overrides() if ctx > ARCH.context_length else None,
        port=port,
        head_address=head_address if nodes > 1 else None,
    )
    reasons += _explain(plan, ckpt, min_sequences, strategy)
    if plan.budget.sequences < min_sequences:
        warnings.append(
            f"one replica holds only {budget.sequences} sequence(s) of {ctx} tokens (wanted "
            f"{min_sequences}); a shorter --ctx, --kv-cache-dtype fp8 or a smaller --quant "
            "holds more"
        )
    return replace(plan, reasons=reasons, warnings=warnings + _caveats(plan))


def yarn_overrides(context: int = LONG_CTX) -> dict[str, Any]:
    """`--hf-overrides` for YaRN beyond Qwen2.5's native 32768 tokens (factor 4).

    vLLM replaces a dict-valued config key as a whole, so `rope_theta` is repeated; and it
    no longer multiplies `max_position_embeddings` by a YaRN factor (vllm 0.34
    `_get_and_verify_max_len`), so the scaled length is stated too, or `--max-model-len`
    above 32768 is refused.
    """
    original = ARCH.context_length
    return {
        "rope_parameters": {
            "rope_type": "yarn",
            "factor": YARN_FACTOR,
            "original_max_position_embeddings": original,
            "rope_theta": ROPE_THETA,
        },
        "max_position_embeddings": int(original * YARN_FACTOR),
    }


# -- inputs -----------------------------------------------------------------------------


def _check_args(
    nodes: int,
    context: int | None,
    strategy: str,
    kv_cache_dtype: str,
    min_sequences: int,
    served_name: str,
    port: int,
) -> None:
    if nodes < 1:
        raise PlanError(f"nodes must be at least 1, got {nodes}")
    if context is not None and not MIN_CONTEXT <= context <= LONG_CTX:
        raise PlanError(
            f"context {context} is outside {MIN_CONTEXT}-{LONG_CTX}",
            hint=f"Qwen2.5-7B handles at most {LONG_CTX} tokens (with YaRN)",
        )
    if strategy not in STRATEGIES:
        raise PlanError(f"unknown strategy {strategy!r}", hint=f"one of: {', '.join(STRATEGIES)}")
    if kv_cache_dtype not in KV_DTYPE_BYTES:
        raise PlanError(
            f"unknown KV cache dtype {kv_cache_dtype!r}",
            hint=f"one of: {', '.join(KV_DTYPE_BYTES)}",
        )
    if min_sequences < 1:
        raise PlanError(f"min sequences must be at least 1, got {min_sequences}")
    if not _SERVED_NAME.fullmatch(served_name):
        raise PlanError(
            f"served model name {served_name!r} is not usable",
            hint="letters, digits and . _ : / - only, starting with a letter or digit, "
            "at most 128 characters",
        )
    if not 1 <= port <= 65535:
        raise PlanError(f"port {port} is outside 1-65535")


def _target_gpu(
    profile: HardwareProfile, gpus: int | None, vram_bytes: int | None, compute: float | None
) -> TargetGpu:
    if gpus is not None and gpus < 1:
        raise PlanError(f"gpus must be at least 1, got {gpus}")
    if vram_bytes is not None:
        if vram_bytes < GiB:
            raise PlanError(f"GPU memory {vram_bytes} bytes is less than 1 GiB")
        name = f"a GPU with {vram_bytes / GiB:.0f} GiB"
        return TargetGpu(name, vram_bytes, None, compute, gpus or 1)
    nvidia = [g for g in profile.gpus if g.vendor == "nvidia" and g.memory_total_bytes]
    if not nvidia:
        found = ", ".join(f"{g.name} ({g.vendor})" for g in profile.gpus) or "no GPU"
        raise PlanError(
            f"vLLM needs an NVIDIA GPU with CUDA; the probe found {found}",
            hint="to plan for another machine, pass --vram GiB (and --compute-capability)",
        )
    small = min(nvidia, key=lambda g: g.memory_total_bytes or 0)
    capability = compute if compute is not None else compute_capability(small.name)
    total = small.memory_total_bytes or 0
    return TargetGpu(small.name, total, small.memory_free_bytes, capability, gpus or len(nvidia))


def _utilization(gpu: TargetGpu, asked: float | None) -> tuple[float, str]:
    """`--gpu-memory-utilization`: 0.90, or less when other programs hold GPU memory."""
    if asked is not None:
        if not 0.05 <= asked <= 1.0:
            raise PlanError(f"GPU memory utilization {asked} is outside 0.05-1.0")
        return asked, f"--gpu-memory-utilization {asked:g} as asked"
    util = DEFAULT_UTILIZATION
    reason = (
        f"--gpu-memory-utilization {util:g}: vLLM takes that share of each GPU up front "
        "(weights, activations, then KV cache); the rest covers the driver and other programs"
    )
    if gpu.free_bytes is not None and gpu.total_bytes:
        fits = int((gpu.free_bytes - FREE_SLACK) / gpu.total_bytes * 100) / 100
        if fits < util:
            if fits < 0.05:
                raise PlanError(
                    f"{gpu.name} has only {gpu.free_bytes / GiB:.1f} GiB free",
                    hint="stop what uses the GPU (nvidia-smi lists it), or plan with --vram",
                )
            util = fits
            reason = (
                f"--gpu-memory-utilization {util:g}, not {DEFAULT_UTILIZATION:g}: other programs "
                f"use {(gpu.total_bytes - gpu.free_bytes) / GiB:.1f} GiB of {gpu.name}, and vLLM "
                "refuses to start when the share it asks for is not free"
            )
    return util, reason


def _checkpoints(
    quant: str, gpu: TargetGpu, reasons: list[str], warnings: list[str]
) -> list[Checkpoint]:
    """The checkpoints to try, best first; forced ones are checked against the GPU."""
    cc = gpu.compute_capability
    if quant.lower() != "auto":
        ckpt = checkpoint(quant)
        need = FP8_MIN_COMPUTE if ckpt.name == "fp8" else ckpt.min_compute
        if cc is not None and cc < need:
            raise PlanError(
                f"{ckpt.label} needs compute capability {need:g}, {gpu.name} has {cc:g}",
                hint="choose another --quant (awq or gptq-int4 run from 7.5)",
            )
        if cc is None and ckpt.name == "fp8":
            warnings.append(
                f"compute capability of {gpu.name} is unknown: fp8 needs 8.9 (Ada, Hopper)"
            )
        return [ckpt]
    usable = [c for c in CHECKPOINTS if cc is None or cc >= c.min_compute]
    if cc is None:
        usable = [c for c in usable if c.name != "fp8"]
        reasons.append(
            f"fp8 not considered: the compute capability of {gpu.name} is unknown "
            "(pass --compute-capability 8.9 for an Ada or Hopper GPU)"
        )
    elif cc < FP8_MIN_COMPUTE:
        reasons.append(
            f"fp8 not considered: it needs compute capability 8.9, {gpu.name} has {cc:g}"
        )
    if not usable:
        raise PlanError(f"vLLM has no kernel for Qwen2.5 on compute capability {cc:g}")
    return usable


# -- search -----------------------------------------------------------------------------

Choice = tuple[Checkpoint, Topology, GpuBudget]


def _search(
    candidates: list[Checkpoint],
    gpu: TargetGpu,
    nodes: int,
    ctx: int,
    kv_dtype: str,
    util: float,
    strategy: str,
    min_sequences: int,
) -> Choice:
    options = [
        (ckpt, topo, _budget(ckpt, topo, gpu, ctx, kv_dtype, util))
        for ckpt in candidates
        for topo in _topologies(gpu.count, nodes, strategy)
    ]
    fitting = [o for o in options if o[2].sequences >= 1]
    for option in fitting:  # best checkpoint first, then the fewest GPUs per copy
        if option[2].sequences >= min_sequences:
            return option
    if fitting:
        return max(fitting, key=lambda o: o[2].sequences * o[1].replicas)
    best = max(options, key=lambda o: o[2].kv_pool_bytes)
    ckpt, topo, budget = best
    need = budget.kv_bytes_per_token * ctx
    raise PlanError(
        f"no vLLM configuration holds one {ctx}-token sequence on {gpu.name}: the best "
        f"({ckpt.label}, {topo.tensor_parallel * topo.pipeline_parallel} GPU(s) per copy) "
        f"leaves {max(0, budget.kv_pool_bytes) / GiB:.2f} GiB for the KV cache, one "
        f"sequence needs {need / GiB:.2f} GiB",
        hint="shorten --ctx, add --kv-cache-dtype fp8, use more GPUs (--gpus/--nodes), or "
        "--gpu-memory-utilization 0.95 on a GPU that drives no display",
    )


def _topologies(gpus: int, nodes: int, strategy: str) -> list[Topology]:
    if strategy == "split":
        if gpus not in TENSOR_PARALLEL_SIZES:
            raise PlanError(
                f"cannot split Qwen2.5-7B over {gpus} GPUs per node: tensor parallelism "
                "must divide its 28 attention heads and its MLP evenly (1, 2 or 4)",
                hint="use --strategy replicas, or --gpus 1, 2 or 4",
            )
        if nodes > ARCH.block_count:
            raise PlanError(f"pipeline parallelism splits 28 layers: at most 28 nodes, not {nodes}")
        return [Topology(nodes, gpus, gpus, nodes, 1)]
    sizes = (1,) if strategy == "replicas" else TENSOR_PARALLEL_SIZES
    return [Topology(nodes, gpus, tp, 1, gpus // tp * nodes) for tp in sizes if gpus % tp == 0]


def _budget(
    ckpt: Checkpoint, topo: Topology, gpu: TargetGpu, ctx: int, kv_dtype: str, util: float
) -> GpuBudget:
    return gpu_budget(
        ckpt,
        total_bytes=gpu.total_bytes,
        utilization=util,
        context=ctx,
        kv_cache_dtype=kv_dtype,
        tensor_parallel=topo.tensor_parallel,
        pipeline_parallel=topo.pipeline_parallel,
        gpu_name=gpu.name,
    )


def _dtype(ckpt: Checkpoint, gpu: TargetGpu) -> str | None:
    cc = gpu.compute_capability
    if ckpt.bits == 16 and cc is not None and cc < BF16_MIN_COMPUTE:
        return "half"
    return None


# -- wording ------------------------------------------------------------------------------


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def _gpu_reason(gpu: TargetGpu, nodes: int) -> str:
    cc = f", compute capability {gpu.compute_capability:g}" if gpu.compute_capability else ""
    where = f" on each of {nodes} nodes (planned as identical)" if nodes > 1 else ""
    return f"{gpu.count} × {gpu.name} ({_gib(gpu.total_bytes)}{cc}){where}"


def _explain(plan: VllmPlan, ckpt: Checkpoint, min_sequences: int, strategy: str) -> list[str]:
    b, topo = plan.budget, plan.topology
    lines = [
        f"{ckpt.label} from {ckpt.repo}: {_gib(ckpt.weight_bytes)} of weights, "
        f"{_gib(b.weights_bytes)} on the most loaded GPU"
        + (
            f"; the best checkpoint whose KV cache holds {min_sequences}+ sequences"
            if plan.sequences >= min_sequences and ckpt.rank < CHECKPOINTS[0].rank
            else ""
        ),
        f"KV cache {b.kv_bytes_per_token // 1024} KiB per token per GPU "
        f"({ARCH.block_count} layers × {ARCH.head_count_kv} KV heads × {ARCH.head_dim} × K,V × "
        f"{KV_DTYPE_BYTES[plan.kv_cache_dtype]} bytes, split over the GPUs of one copy)",
        f"per GPU: {_gib(b.usable_bytes)} usable − {_gib(b.weights_bytes)} weights − "
        f"{_gib(b.margin_bytes)} activations/CUDA graphs/runtime = {_gib(b.kv_pool_bytes)} KV "
        f"cache = {b.kv_tokens} tokens = {b.sequences} sequence(s) of {plan.context} tokens "
        "per copy",
        _topology_reason(topo, strategy),
        f"{plan.sequences} full-context sequences at once in total; shorter requests share the "
        "paged cache, so many more short chats run together",
        "--enable-auto-tool-choice --tool-call-parser hermes: Qwen2.5 writes tool calls as "
        "<tool_call>{...}</tool_call>, the format vLLM's hermes parser reads",
        "sampling defaults come from the checkpoint's generation_config.json (Qwen's "
        "temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.05), as vLLM applies it",
    ]
    if plan.yarn:
        lines.append(
            f"{plan.context} tokens is beyond Qwen2.5's native {ARCH.context_length}: YaRN "
            f"(factor {YARN_FACTOR:g} over {ARCH.context_length} positions) via --hf-overrides"
        )
    if plan.dtype:
        lines.append(f"--dtype {plan.dtype}: {plan.gpu.name} has no bf16 (compute capability < 8)")
    return lines


def _topology_reason(topo: Topology, strategy: str) -> str:
    tp, n = topo.tensor_parallel, topo.nodes
    if topo.kind == "pipeline":
        return (
            f"one copy split over {n} nodes as asked: tensor parallel {tp} within a node, "
            f"pipeline parallel {n} across nodes (Ray). Qwen2.5-7B fits one GPU, so replicas "
            "(--strategy replicas) usually serve more: pipeline stages pass activations over the "
            "network for every token"
        )
    if topo.kind == "single":
        return "one GPU holds the whole model: no parallelism needed"
    if topo.kind == "tensor":
        why = "as asked" if strategy == "split" else "one GPU alone holds too few sequences"
        return (
            f"tensor parallel {tp} ({why}): the weights and the KV heads are split over "
            f"{tp} GPUs, so each has room for more of the KV cache"
        )
    where = f"{topo.replicas_per_node} per node on {n} nodes" if n > 1 else "on this node"
    per = f"{tp} GPUs each" if tp > 1 else "one GPU each"
    return (
        f"{topo.replicas} data-parallel replicas ({per}, {where}) behind vLLM's own load "
        "balancer: a 7B model fits one GPU, so independent copies scale throughput with the "
        "GPU count, while splitting one copy adds an all-reduce per layer (tensor) or network "
        "hops per token (pipeline) and gains only room the model does not need"
    )


def _caveats(plan: VllmPlan) -> list[str]:
    out = []
    if plan.yarn:
        out.append(
            "vLLM's YaRN is static: the scaling applies to every request, short ones too, which "
            "can cost a little quality on short inputs; serve a second 32K deployment for "
            "those, as the 32K Ollama variants stay beside the long one"
        )
    if plan.kv_cache_dtype == "fp8":
        out.append("fp8 KV cache without calibrated scales can cost some accuracy on long inputs")
    return out
