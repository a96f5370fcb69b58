"""How many bytes qwen2.5:7b-instruct needs at a given context: a pure memory model.

Every term is documented where it is computed. The numbers follow `hardware-fit.md` §2 and
`ollama-api.md` §7 (Ollama's formula estimator for llama.cpp-run qwen2 models, ≤ v0.24, and
llama.cpp's real block sizes). Nothing here does I/O; the planner and the tests call it.

>>> GiB = 1 << 30
>>> round(kv_cache_bytes(32768) / GiB, 2)          # f16, one slot
1.75
>>> round(compute_bytes(131072, flash_attention=False) / GiB, 2)
7.26
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

from ..catalog import ARCH, Architecture, MiB, quant_tag

#: Bytes per KV element. llama.cpp stores q8_0 as blocks of 32 values in 34 bytes (32 int8 +
#: an f16 scale) and q4_0 as 18 bytes per 32 values. Ollama's own estimator rounds these down
#: to 1 and 0.5; we use the real block sizes because that is what gets allocated, so the
#: plan errs on the safe side by about 6 %.
KV_BYTES_PER_ELEMENT: dict[str, Fraction] = {
    "f16": Fraction(2),
    "q8_0": Fraction(34, 32),
    "q4_0": Fraction(18, 32),
}

#: llama.cpp's default micro-batch; the compute buffer scales with it.
BATCH = 512

#: Scratch space llama.cpp keeps for one layer's flash-attention kernels (approximation).
FLASH_ATTENTION_SCRATCH = 64 * MiB

#: `MinimumMemory()` Ollama reserves on every GPU (`ml/device.go`): CUDA/ROCm/others vs Metal.
GPU_RESERVE = {"apple": 512 * MiB}
GPU_RESERVE_DEFAULT = 457 * MiB


def kv_bytes_per_token(kv_cache_type: str = "f16", arch: Architecture = ARCH) -> int:
    """K and V for one token across all layers: 2 × layers × KV heads × head dim × bytes.

    >>> kv_bytes_per_token("f16"), kv_bytes_per_token("q8_0"), kv_bytes_per_token("q4_0")
    (57344, 30464, 16128)
    """
    per_element = KV_BYTES_PER_ELEMENT[kv_cache_type]
    elements = 2 * arch.block_count * arch.head_count_kv * arch.head_dim
    return int(elements * per_element)


def kv_cache_bytes(
    num_ctx: int, parallel: int = 1, kv_cache_type: str = "f16", arch: Architecture = ARCH
) -> int:
    """The KV cache: every parallel slot holds a full `num_ctx` (Ollama runs `-c ctx × np`)."""
    return kv_bytes_per_token(kv_cache_type, arch) * num_ctx * parallel


def compute_bytes(
    num_ctx: int,
    parallel: int = 1,
    *,
    flash_attention: bool,
    partial: bool = False,
    arch: Architecture = ARCH,
) -> int:
    """The compute (graph) buffer for one device.

    Without flash attention this is Ollama's qwen2 `GraphSize` formula: the f32 attention
    scores `batch × ctx × heads` dominate, so it grows as fast as the KV cache (7.26 GiB at
    128K). With flash attention the scores are never materialised; what is left is the f32
    logits `batch × (E + V)`, the f16 mask `batch × ctx` and ~64 MiB of kernel scratch —
    0.37-0.48 GiB for every context (an approximation, not an Ollama formula).
    """
    ctx = num_ctx * parallel
    batch = min(num_ctx, BATCH)
    e, v, h = arch.embedding_length, arch.vocab_size, arch.head_count
    logits = 4 * batch * (e + v)
    if flash_attention:
        return logits + 2 * batch * ctx + FLASH_ATTENTION_SCRATCH
    if partial:
        # Partial offload keeps the output matrix on the GPU side of the split as well.
        return max(
            logits + e * v * 105 // 128,
            4 * (batch * (1 + 2 * e + ctx * (1 + h)) + e * (1 + ctx)),
        )
    return max(logits, 4 * batch * (1 + 2 * e + ctx + ctx * h))


def gpu_reserve(vendor: str) -> int:
    """What Ollama keeps free on one GPU before placing anything (457 MiB, Metal 512 MiB)."""
    return GPU_RESERVE.get(vendor, GPU_RESERVE_DEFAULT)


@dataclass(frozen=True)
class Estimate:
    """The bytes one configuration needs, by term; `total_bytes` is their sum."""

    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    total_bytes: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def estimate(
    quant: str,
    num_ctx: int,
    *,
    parallel: int = 1,
    kv_cache_type: str = "f16",
    flash_attention: bool = False,
    devices: int = 1,
    overhead_bytes: int = GPU_RESERVE_DEFAULT,
    partial: bool = False,
) -> Estimate:
    """Weights + KV + compute + fixed overhead for one configuration.

    Weights are the whole GGUF as the catalog lists it (slightly pessimistic: the token
    embedding may stay in RAM). Each of `devices` GPUs gets its own compute buffer, as
    llama.cpp allocates one per backend; `overhead_bytes` is the total fixed reserve (the sum
    of every GPU's `gpu_reserve`, or 0 on a CPU).

    >>> e = estimate("q8_0", 131072)
    >>> round((e.total_bytes - e.overhead_bytes) / (1 << 30), 2)   # gguf-parser: 21.82 GiB
    21.8
    """
    weights = quant_tag(quant).size_bytes
    kv = kv_cache_bytes(num_ctx, parallel, kv_cache_type)
    graph = devices * compute_bytes(
        num_ctx, parallel, flash_attention=flash_attention, partial=partial
    )
    total = weights + kv + graph + overhead_bytes
    return Estimate(weights, kv, graph, overhead_bytes, total)
