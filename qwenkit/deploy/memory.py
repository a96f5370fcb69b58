"""How many sequences vLLM can hold at once: a pure memory model of one GPU in a deployment.

vLLM takes `--gpu-memory-utilization` × the GPU's total memory, loads its share of the
weights, profiles one forward pass at the largest batch, captures CUDA graphs, and gives
everything left to a paged KV cache. The number that matters to a team is how many
sequences that cache holds at the planned context. Per GPU:

    kv_pool = utilization × total − weights / (TP × PP) − runtime margin
    sequences = kv_pool // (kv_per_token_per_gpu × context)

The KV cache per token is 28 layers × 4 KV heads × 128 × 2 (K and V) × dtype bytes — the
same element count as llama.cpp's (`qwenkit._memory`), 56 KiB per token in bf16. Tensor
parallelism splits the 4 KV heads across GPUs (at most 4 ways); pipeline parallelism splits
the 28 layers across nodes. The margin terms are approximations (vLLM measures the real ones
at start and logs "Maximum concurrency for N tokens per request"); they err on the safe side.

>>> round(kv_bytes_per_token_per_gpu("auto") / 1024)        # KiB, one GPU, bf16
56
>>> kv_bytes_per_token_per_gpu("fp8", tensor_parallel=2), kv_bytes_per_token_per_gpu()
(14336, 57344)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..catalog import ARCH, GiB, MiB
from ..planner._memory import kv_bytes_per_token
from .checkpoints import EDGE_BYTES, Checkpoint

#: Peak activations of vLLM's profiling pass: a full `max_num_batched_tokens` batch through
#: the 18944-wide MLP, plus the sampler's fp32 logits over 152064 tokens for `max_num_seqs`.
#: The API server's defaults are 2048 tokens / 256 sequences, and 8192 / 1024 on GPUs with
#: 70 GiB or more other than the A100 (vllm 0.34 `get_batch_defaults`).
ACTIVATION_MARGIN = GiB
LARGE_GPU_ACTIVATION_MARGIN = 2 * GiB
LARGE_GPU_BYTES = 70 * GiB
#: CUDA graphs captured for decode batch sizes (vLLM logs the real size; ~0.3-0.7 GiB for 7B).
CUDA_GRAPH_MARGIN = 512 * MiB
#: Memory outside PyTorch's allocator: the CUDA context and cuBLAS workspaces.
RUNTIME_MARGIN = 512 * MiB
#: NCCL's buffers on each GPU once more than one GPU shares the model.
NCCL_MARGIN = 256 * MiB
#: KV element size by `--kv-cache-dtype` ("auto" = the bf16/fp16 weights' dtype).
KV_DTYPE_BYTES = {"auto": 2, "fp8": 1}


def kv_bytes_per_token_per_gpu(
    kv_cache_dtype: str = "auto", *, tensor_parallel: int = 1, pipeline_parallel: int = 1
) -> int:
    """One token's K and V on the most loaded GPU: its share of layers and of KV heads.

    With more TP ranks than KV heads, vLLM replicates heads, so a GPU never holds less than
    one; the first pipeline stage gets the rounded-up share of layers.
    """
    # `_memory` counts llama.cpp's f16 cache: 2 bytes per element, as bf16; fp8 is half.
    per_layer_head = kv_bytes_per_token("f16") // (ARCH.block_count * ARCH.head_count_kv)
    per_layer_head = per_layer_head * KV_DTYPE_BYTES[kv_cache_dtype] // 2
    heads = max(1, ARCH.head_count_kv // tensor_parallel)
    layers = math.ceil(ARCH.block_count / pipeline_parallel)
    return per_layer_head * layers * heads


def weights_per_gpu(
    ckpt: Checkpoint, *, tensor_parallel: int = 1, pipeline_parallel: int = 1
) -> int:
    """The most loaded GPU's weights: its share of the blocks, plus the embedding or output.

    Without pipeline parallelism every GPU holds a 1/TP slice of both the embedding and the
    output matrix; with it, the first stage holds the embedding and the last the output.
    """
    layers = math.ceil(ARCH.block_count / pipeline_parallel)
    blocks = ckpt.block_bytes * layers // ARCH.block_count
    edges = EDGE_BYTES if pipeline_parallel == 1 else EDGE_BYTES // 2
    return (blocks + edges) // tensor_parallel


def runtime_margin(gpus_per_model: int, *, large_batches: bool = False) -> int:
    """Activations, CUDA graphs and the CUDA runtime; plus NCCL when GPUs share a model."""
    activations = LARGE_GPU_ACTIVATION_MARGIN if large_batches else ACTIVATION_MARGIN
    margin = activations + CUDA_GRAPH_MARGIN + RUNTIME_MARGIN
    return margin + (NCCL_MARGIN if gpus_per_model > 1 else 0)


def large_batches(total_bytes: int, gpu_name: str = "") -> bool:
    """Whether vLLM picks its larger batch defaults for this GPU (see `ACTIVATION_MARGIN`)."""
    return total_bytes >= LARGE_GPU_BYTES and "a100" not in gpu_name.lower()


@dataclass(frozen=True)
class GpuBudget:
    """One GPU of one model replica, in bytes; `sequences` is what the KV pool holds."""

    total_bytes: int
    utilization: float
    usable_bytes: int  # utilization × total
    weights_bytes: int
    margin_bytes: int
    kv_pool_bytes: int  # may be negative: the model does not fit
    kv_bytes_per_token: int
    kv_tokens: int  # tokens the pool holds, summed over all sequences
    sequences: int  # full-context sequences at once

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def gpu_budget(
    ckpt: Checkpoint,
    *,
    total_bytes: int,
    utilization: float,
    context: int,
    kv_cache_dtype: str = "auto",
    tensor_parallel: int = 1,
    pipeline_parallel: int = 1,
    gpu_name: str = "",
) -> GpuBudget:
    """The budget of the most loaded GPU of one replica.

    >>> from qwenkit.deploy.checkpoints import checkpoint
    >>> b = gpu_budget(checkpoint("bf16"), total_bytes=80 * GiB, utilization=0.9, context=32768)
    >>> b.sequences, round(b.kv_pool_bytes / GiB, 1)
    (31, 54.8)
    """
    usable = int(total_bytes * utilization)
    weights = weights_per_gpu(
        ckpt, tensor_parallel=tensor_parallel, pipeline_parallel=pipeline_parallel
    )
    margin = runtime_margin(
        tensor_parallel * pipeline_parallel, large_batches=large_batches(total_bytes, gpu_name)
    )
    pool = usable - weights - margin
    per_token = kv_bytes_per_token_per_gpu(
        kv_cache_dtype, tensor_parallel=tensor_parallel, pipeline_parallel=pipeline_parallel
    )
    tokens = max(0, pool) // per_token
    return GpuBudget(
        total_bytes,
        utilization,
        usable,
        weights,
        margin,
        pool,
        per_token,
        tokens,
        tokens // context,
    )
