"""How many bytes qwen2.5:7b-instruct needs at a given context: a pure memory model.

Each term follows what llama.cpp (b10488, the llama-server of Ollama ≥ 0.30) allocates, and
what Ollama's `/api/ps` `size` adds up: llama-server's model, KV, output and compute
buffers (`llm/llama_server.go` `memoryParsingWriter`). Source lines are cited where a term
is computed; the measured points that pin it are in `_calibration` and the tests. Nothing
here does I/O.

>>> GiB = 1 << 30
>>> round(kv_cache_bytes(32768) / GiB, 2)          # f16, one slot
1.75
>>> compute_bytes(8192, flash_attention=True, ubatch=1024) >> 20   # Ollama 0.32, CPU: 294.02 MiB
294
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

from ..catalog import ARCH, Architecture, quant_tag
from ._calibration import DEVICES

#: Bytes per KV element. llama.cpp stores q8_0 as blocks of 32 values in 34 bytes (32 int8 +
#: an f16 scale) and q4_0 as 18 bytes per 32 values — what gets allocated (238 MiB for q8_0
#: at 8K, measured), where Ollama's old estimator rounded down to 1 and 0.5.
KV_BYTES_PER_ELEMENT: dict[str, Fraction] = {
    "f16": Fraction(2),
    "q8_0": Fraction(34, 32),
    "q4_0": Fraction(18, 32),
}

#: llama.cpp rounds the context up to a multiple of 256 cells (`llama-context.cpp:288`).
KV_PAD = 256
#: The physical batch llama.cpp reserves for when nothing sets one (`common.h:444`); Ollama
#: before 0.30 passed its `num_batch` default, also 512. Ollama ≥ 0.30 picks its own.
DEFAULT_UBATCH = 512
#: Token ids, positions and KV slot indices of one batch, plus the Hadamard rotation inputs
#: of a quantized cache: measured as the 0.01-0.09 MiB left over by the terms below.
INPUTS = 128 << 10
F32 = 4
F16 = 2


def padded_ctx(num_ctx: int) -> int:
    """The cells llama.cpp gives one sequence: `num_ctx` rounded up to 256 (8000 → 8192)."""
    return -(-num_ctx // KV_PAD) * KV_PAD


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
    """The KV cache: every parallel slot holds a full, padded `num_ctx` (`-c ctx × np`)."""
    return kv_bytes_per_token(kv_cache_type, arch) * padded_ctx(num_ctx) * parallel


def compute_bytes(
    num_ctx: int,
    *,
    flash_attention: bool,
    kv_cache_type: str = "f16",
    ubatch: int = DEFAULT_UBATCH,
    batch_logits: bool = False,
    arch: Architecture = ARCH,
) -> int:
    """The compute (graph) buffer of one device, as llama.cpp's graph allocator sizes it.

    llama.cpp reserves the worst case: a full physical batch of `u` tokens attending to all
    `n` cells of one sequence (`llama-context.cpp` `sched_reserve`; with several slots each
    stream sees its own cells, so `parallel` does not enter). The buffer is the peak of
    the tensors alive at once (`ggml-alloc.c`):

    * without flash attention, the attention step: the f32 scores `n × u × heads`
      (softmax runs in place) and the f32 mask `n × u` (`llama-graph.cpp:38, 2583`), next
      to one f32 feed-forward row per token;
    * with it, the feed-forward step: three f32 `n_ff` rows and four (three with a
      quantized cache) `n_embd` rows per token, plus the f16 mask `n × u`.

    Measured on Ollama 0.32.15's CPU backend, `u` 256-2048 and 2K-128K tokens: every
    point within 0.1 MiB. `batch_logits`: llama.cpp before `n_outputs_max` (the runner of
    Ollama < 0.30) also reserved f32 logits for every token of the batch.
    """
    n, u = padded_ctx(num_ctx), min(ubatch, padded_ctx(num_ctx))
    e, ff, heads = arch.embedding_length, arch.feed_forward_length, arch.head_count
    embd_rows = 4 if kv_cache_type == "f16" else 3
    feed_forward = u * (3 * ff + embd_rows * e) * F32
    if flash_attention:
        peak = feed_forward + n * u * F16
    else:
        attention = u * ff * F32 + n * u * (heads + 1) * F32
        peak = max(attention, feed_forward + n * u * F32)
    if batch_logits:
        peak += u * arch.vocab_size * F32
    return peak + INPUTS


def output_bytes(parallel: int = 1, arch: Architecture = ARCH) -> int:
    """The logits buffer: one row of the vocabulary per slot (`n_outputs_max` = parallel).

    >>> output_bytes() / (1 << 20)     # llama-server: "CPU output buffer size = 0.58 MiB"
    0.580078125
    """
    return arch.vocab_size * F32 * parallel


@dataclass(frozen=True)
class Estimate:
    """The bytes one configuration needs, by term; `total_bytes` is their sum.

    `compute_bytes` includes the small output (logits) buffer; `weights_bytes + kv_cache_bytes
    + compute_bytes` is what Ollama reports as `/api/ps` `size`.
    """

    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    total_bytes: int

    @property
    def model_bytes(self) -> int:
        """Weights + KV + compute: the prediction of `/api/ps` `size`."""
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def estimate(
    quant: str,
    num_ctx: int,
    *,
    parallel: int = 1,
    kv_cache_type: str = "f16",
    flash_attention: bool = True,
    ubatch: int = DEFAULT_UBATCH,
    batch_logits: bool = False,
    gpus: int = 0,
    overhead_bytes: int = 0,
    partial: bool = False,
) -> Estimate:
    """Weights + KV + compute + fixed overhead for one configuration.

    Weights are the whole GGUF as the catalog lists it (within 0.2 % of llama-server's model
    buffers on a CPU; on a GPU it also counts the token embedding that stays in RAM, about
    0.3 GB of margin). Each of `gpus` GPUs gets its own compute buffer, with the GPU margin
    of `_calibration`; `partial` adds the CPU's own for the layers left there; no GPU means
    the CPU's. `overhead_bytes` is what the server keeps free (the sum of every GPU's
    reserve, or 0 on a CPU).

    >>> estimate("q4_K_M", 8192, ubatch=1024).model_bytes >> 20  # /api/ps, 0.32.15: 5203 MiB
    5208
    """
    weights = quant_tag(quant).size_bytes
    kv = kv_cache_bytes(num_ctx, parallel, kv_cache_type)
    graph = compute_bytes(
        num_ctx,
        flash_attention=flash_attention,
        kv_cache_type=kv_cache_type,
        ubatch=ubatch,
        batch_logits=batch_logits,
    )
    compute = gpus * DEVICES["gpu"].compute(graph)
    if partial or not gpus:
        compute += DEVICES["cpu"].compute(graph)
    compute += output_bytes(parallel)
    total = weights + kv + compute + overhead_bytes
    return Estimate(weights, kv, compute, overhead_bytes, total)
