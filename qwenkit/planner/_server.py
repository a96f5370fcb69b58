"""What the Ollama server does about memory when the plan sets nothing, by version.

The plan's estimate is only right if the server runs the settings it assumes, so the
planner asks here what a given version does unasked, and pins anything it relies on in
`server_env`. Facts read from Ollama's source (tags cited) and observed on v0.32.15
(`hardware-fit.md` §9):

* Flash attention for qwen2 when `OLLAMA_FLASH_ATTENTION` is unset: off before 0.13.4
  (`llm/server.go` v0.13.3:192, qwen2 is not in `FlashAttention()`'s list); from 0.13.4 the
  runner gets "auto" (v0.13.4:213-221), and from 0.30 llama-server gets `--flash-attn auto`
  (`llm/llama_server.go` `LlamaServerFlashAttention`). llama.cpp's auto turns it on when the
  attention op runs on the layer's own device (`llama-context.cpp` `resolve_fused_ops`):
  CPU, Metal, CUDA (compute capability 6.0+), ROCm, Vulkan. Seen on v0.32.15: unset → on.
* A quantized `OLLAMA_KV_CACHE_TYPE` is honoured only with `OLLAMA_FLASH_ATTENTION=1` before
  0.30 (dropped with a warning otherwise); from 0.30 it goes straight to llama-server, which
  turns flash attention on for a quantized V cache (`llama-context.cpp:3596`).
* What stays free on each GPU: Ollama's `MinimumMemory()` (457 MiB, Metal 512 MiB) before
  0.30; from 0.30 llama-server's `--fit` places the layers and leaves its default target of
  1024 MiB free per device (`common/common.h:473`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._common.versions import Version, dotted, parse_version
from ._calibration import (
    GPU_RESERVE_LLAMA_SERVER,
    GPU_RESERVE_OLLAMA,
    GPU_RESERVE_OLLAMA_DEFAULT,
)
from ._memory import DEFAULT_UBATCH, kv_bytes_per_token

FLASH_ATTENTION_AUTO_SINCE: Version = (0, 13, 4)
LLAMA_SERVER_SINCE: Version = (0, 30, 0)
#: What a server whose version is unknown (unreachable, or a dev build) is taken to be.
CURRENT: Version = (0, 32, 15)


@dataclass(frozen=True)
class ServerFacts:
    """One Ollama version's defaults that change how much memory a load takes."""

    version: str | None  # as reported by /api/version; None when no server answered
    flash_attention_by_itself: bool  # unset OLLAMA_FLASH_ATTENTION → on (for qwen2)
    kv_quant_needs_flash_env: bool  # a quantized KV cache also needs OLLAMA_FLASH_ATTENTION=1
    llama_server: bool  # each model runs in llama.cpp's llama-server, which places layers itself

    @property
    def known(self) -> bool:
        return self.version is not None and parse_version(self.version) is not None

    def flash_attention_line(self, planned: bool) -> str:
        """The plan's sentence about flash attention (`planned` on: server_env pins it to 1)."""
        since = dotted(FLASH_ATTENTION_AUTO_SINCE)
        if not planned:
            what = "the server turns it on by itself" if self.flash_attention_by_itself else "off"
            return f"flash attention: off (OLLAMA_FLASH_ATTENTION=0 pins it; {what} otherwise)"
        if not self.known:
            return (
                f"flash attention: the server turns it on by itself (Ollama ≥ {since}); "
                "OLLAMA_FLASH_ATTENTION=1 pins it for older servers"
            )
        if self.flash_attention_by_itself:
            return (
                f"flash attention: the server turns it on by itself (Ollama ≥ {since}; "
                f"this one is {self.version}); OLLAMA_FLASH_ATTENTION=1 pins it"
            )
        return (
            f"flash attention: Ollama {self.version} leaves it off for qwen2 (auto came in "
            f"{since}); the plan needs OLLAMA_FLASH_ATTENTION=1"
        )


def server_facts(version: str | None) -> ServerFacts:
    """The facts for `version`; an unknown or unparseable one counts as a current server.

    >>> server_facts("0.12.10").flash_attention_by_itself, server_facts("0.32.15").llama_server
    (False, True)
    """
    parsed = parse_version(version) or CURRENT
    return ServerFacts(
        version=version,
        flash_attention_by_itself=parsed >= FLASH_ATTENTION_AUTO_SINCE,
        kv_quant_needs_flash_env=parsed < LLAMA_SERVER_SINCE,
        llama_server=parsed >= LLAMA_SERVER_SINCE,
    )


def gpu_reserve(facts: ServerFacts, vendor: str) -> int:
    """What the server leaves free on one GPU before placing anything (`_calibration`)."""
    if facts.llama_server:
        return GPU_RESERVE_LLAMA_SERVER
    return GPU_RESERVE_OLLAMA.get(vendor, GPU_RESERVE_OLLAMA_DEFAULT)


def physical_batch(
    facts: ServerFacts,
    num_ctx: int,
    parallel: int,
    *,
    weights_bytes: int,
    gpu_free_bytes: int,
    flash_attention: bool,
    cuda_free_bytes: tuple[int, ...] = (),
) -> int:
    """The `-ub` Ollama gives llama-server when neither the Modelfile nor the request sets
    `num_batch` (the compute buffer grows with it).

    Ollama ≥ 0.30 (`server/sched.go` `automaticGenerationBatch`, unchanged 0.30.0-0.32.15):
    CUDA without flash attention gets 512 (256 above 4K tokens on a card of 8 GiB or less);
    otherwise 512 up to 4K tokens, 1024 up to 32K, 2048 above, each stepped down while
    its predicted VRAM (GGUF + an f16 KV cache, `llm.PredictServerVRAM`) exceeds 80 % of
    the GPUs' free memory, or 75 % (1024) / 60 % (2048). Without a GPU nothing is free by
    that count, so a CPU always gets the context's size. Older servers: `num_batch` 512.

    >>> facts = server_facts("0.32.15")
    >>> [physical_batch(facts, c, 1, weights_bytes=4 << 30, gpu_free_bytes=0,
    ...     flash_attention=True) for c in (4096, 8192, 131072)]
    [512, 1024, 2048]
    """
    if not facts.llama_server:
        return DEFAULT_UBATCH
    ctx = num_ctx * parallel
    if cuda_free_bytes and not flash_attention:
        small = any(free <= 8 << 30 for free in cuda_free_bytes)
        return 256 if ctx > 4096 and small else DEFAULT_UBATCH
    predicted = weights_bytes + kv_bytes_per_token("f16") * ctx
    batch = 2048 if ctx > 32768 else 1024 if ctx > 4096 else DEFAULT_UBATCH
    while batch > DEFAULT_UBATCH and not _batch_fits(batch, predicted, gpu_free_bytes):
        batch = 1024 if batch > 1024 else DEFAULT_UBATCH
    return batch


def _batch_fits(batch: int, predicted: int, free: int) -> bool:
    if free == 0:
        return True
    headroom = 60 if batch >= 2048 else 75
    return predicted <= free * 80 // 100 and predicted <= free * headroom // 100
