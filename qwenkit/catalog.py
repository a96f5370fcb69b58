"""What qwenkit knows about `qwen2.5:7b-instruct`: tags, sizes, architecture, sampling.

Data only. Sizes are the GGUF model-layer bytes Ollama downloads (q4_K_M exact; the others
from the published GGUF listings, ±0.1 GB) — after a pull, `/api/tags` gives the real value.
Architecture numbers are Qwen's `config.json`; at run time `/api/show` `model_info` wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidRequestError

GiB = 1 << 30
MiB = 1 << 20

MODEL = "qwen2.5:7b-instruct"
ARCHITECTURE = "qwen2"


@dataclass(frozen=True)
class QuantTag:
    """One downloadable quantization of the model."""

    quant: str  # as Ollama spells it in the tag, e.g. "q4_K_M"
    size_bytes: int  # model layer size
    rank: int  # higher is better quality
    exact: bool = False  # size known to the byte

    @property
    def tag(self) -> str:
        return f"{MODEL}-{self.quant}"


def _gib(value: float) -> int:
    return round(value * GiB)


#: Every `qwen2.5:7b-instruct-<quant>` tag, best quality first.
TAGS: tuple[QuantTag, ...] = (
    QuantTag("fp16", _gib(14.18), 15),
    QuantTag("q8_0", _gib(7.54), 14),
    QuantTag("q6_K", _gib(5.82), 13),
    QuantTag("q5_K_M", _gib(5.07), 12),
    QuantTag("q5_K_S", _gib(4.95), 11),
    QuantTag("q5_1", _gib(5.36), 10),
    QuantTag("q5_0", _gib(4.95), 9),
    QuantTag("q4_K_M", 4_683_073_952, 8, exact=True),
    QuantTag("q4_K_S", _gib(4.15), 7),
    QuantTag("q4_1", _gib(4.54), 6),
    QuantTag("q4_0", _gib(4.13), 5),
    QuantTag("q3_K_L", _gib(3.81), 4),
    QuantTag("q3_K_M", _gib(3.55), 3),
    QuantTag("q3_K_S", _gib(3.25), 2),
    QuantTag("q2_K", _gib(2.81), 1),
)

#: The tags the planner walks, best first; the others are valid when forced.
LADDER: tuple[str, ...] = ("q8_0", "q6_K", "q5_K_M", "q4_K_M", "q3_K_M", "q2_K")
DEFAULT_QUANT = "q4_K_M"
QUANTS_TEXT = ", ".join(t.quant for t in TAGS)


def quant_tag(quant: str) -> QuantTag:
    """Look a quantization up by name, case-insensitively (`Q4_K_M`, `q4_k_m`)."""
    for entry in TAGS:
        if entry.quant.lower() == quant.lower().removeprefix(MODEL + "-"):
            return entry

    shown = quant if len(quant) <= 40 else quant[:39] + "…"
    raise InvalidRequestError(
        f"unknown quantization {shown!r}", hint=f"choose one of: {QUANTS_TEXT}"
    )


@dataclass(frozen=True)
class Architecture:
    """The numbers the memory model needs (Qwen2.5-7B-Instruct)."""

    block_count: int = 28
    embedding_length: int = 3584
    feed_forward_length: int = 18944
    head_count: int = 28
    head_count_kv: int = 4
    head_dim: int = 128
    vocab_size: int = 152064
    parameter_count: int = 7_615_616_512
    context_length: int = 32768  # trained context; Ollama clamps num_ctx to it


ARCH = Architecture()

#: Qwen's recommended sampling for Qwen2.5 instruct models.
SAMPLING: dict[str, float | int] = {
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
    "repeat_penalty": 1.05,
}

STOP_TOKENS: tuple[str, ...] = ("<|im_start|>", "<|im_end|>")

DEFAULT_CTX = 32768
LONG_CTX = 131072
#: The `num_ctx` every command accepts: below 512 Qwen cannot hold its own chat template and a
#: short question; above 131072 even YaRN does not reach.
MIN_NUM_CTX = 512
YARN_FACTOR = 4.0
