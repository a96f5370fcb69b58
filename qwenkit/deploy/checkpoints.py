"""The Qwen2.5-7B-Instruct checkpoints vLLM can serve, and what each needs from a GPU.

Data only. Weight sizes are what lands in GPU memory, counted from Qwen's `config.json`
(`qwenkit.catalog.ARCH`): the token embedding and the untied output matrix (152064 × 3584
each) stay 16-bit in every checkpoint, only the 28 transformer blocks are quantized. The
int4 and int8 figures follow the published checkpoints' layouts (group size 128: one fp16
scale and one packed zero point per 128 weights) and match their file sizes to about 0.1 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import ARCH

BF16_BYTES = 2
#: Token embedding + output matrix, in bf16 in every checkpoint (not tied in the 7B model).
EMBEDDING_PARAMS = ARCH.vocab_size * ARCH.embedding_length
EDGE_BYTES = 2 * EMBEDDING_PARAMS * BF16_BYTES
#: Everything else: the 28 blocks (attention, MLP, norms).
BLOCK_PARAMS = ARCH.parameter_count - 2 * EMBEDDING_PARAMS
GROUP = 128  # AWQ / GPTQ group size of Qwen's official quantized checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """One way to load the model into vLLM."""

    name: str  # what `--quant` calls it
    repo: str  # Hugging Face repository vLLM loads
    label: str  # how the plan names it
    bits: int  # weight bits inside the transformer blocks
    rank: int  # higher is better quality
    min_compute: float  # lowest CUDA compute capability with a vLLM kernel for it
    quantization_flag: str | None = None  # `--quantization` value, when vLLM must be told
    grouped: bool = False  # AWQ/GPTQ: a scale and a zero point per `GROUP` weights

    @property
    def block_bytes(self) -> int:
        """The transformer blocks: packed weights, plus scales and zero points when grouped."""
        packed = BLOCK_PARAMS * self.bits // 8
        if not self.grouped:
            return packed  # bf16, or fp8 with one scale per tensor
        groups = BLOCK_PARAMS // GROUP
        return packed + groups * BF16_BYTES + groups * self.bits // 8

    @property
    def weight_bytes(self) -> int:
        """Every weight the GPUs hold, summed over all of them."""
        return self.block_bytes + EDGE_BYTES


BASE_REPO = "Qwen/Qwen2.5-7B-Instruct"

#: Best quality first. fp8 is the bf16 checkpoint quantized by vLLM while loading (no
#: separate download); AWQ and GPTQ are Qwen's own quantized repositories, whose
#: `quantization_config` vLLM reads by itself, picking its fast Marlin kernels — passing
#: `--quantization awq` would force the slower plain AWQ kernel instead.
CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint("bf16", BASE_REPO, "bf16 (the original weights)", 16, 5, 7.0),
    Checkpoint("fp8", BASE_REPO, "fp8 (quantized by vLLM on load)", 8, 4, 8.9, "fp8"),
    Checkpoint("gptq-int8", f"{BASE_REPO}-GPTQ-Int8", "GPTQ int8", 8, 3, 7.5, grouped=True),
    Checkpoint("awq", f"{BASE_REPO}-AWQ", "AWQ int4", 4, 2, 7.5, grouped=True),
    Checkpoint("gptq-int4", f"{BASE_REPO}-GPTQ-Int4", "GPTQ int4", 4, 1, 7.5, grouped=True),
)
QUANT_CHOICES: tuple[str, ...] = ("auto", *(c.name for c in CHECKPOINTS), "gptq")
ALIASES = {"gptq": "gptq-int4", "int4": "gptq-int4", "int8": "gptq-int8"}


def checkpoint(name: str) -> Checkpoint:
    """Look a checkpoint up by `--quant` name (`gptq` means `gptq-int4`)."""
    key = ALIASES.get(name.lower(), name.lower())
    for entry in CHECKPOINTS:
        if entry.name == key:
            return entry
    from ..errors import PlanError

    raise PlanError(
        f"unknown vLLM quantization {name!r}",
        hint=f"choose one of: {', '.join(QUANT_CHOICES)}",
    )


#: NVIDIA compute capability by product-name fragment, for the probe's GPU names (nvidia-smi
#: names the product, not the architecture). First match wins, so the specific come first.
_COMPUTE: tuple[tuple[str, float], ...] = (
    ("Quadro RTX", 7.5),
    ("Ada", 8.9),  # RTX 6000/5000/4500/4000 Ada Generation
    ("RTX PRO", 12.0),
    ("GeForce RTX 50", 12.0),
    ("GeForce RTX 40", 8.9),
    ("GeForce RTX 30", 8.6),
    ("GeForce RTX 20", 7.5),
    ("GB200", 10.0),
    ("B200", 10.0),
    ("B100", 10.0),
    ("GH200", 9.0),
    ("H200", 9.0),
    ("H100", 9.0),
    ("H800", 9.0),
    ("H20", 9.0),
    ("L40", 8.9),
    ("L4", 8.9),
    ("A100", 8.0),
    ("A800", 8.0),
    ("A30", 8.0),
    ("A40", 8.6),
    ("A10", 8.6),
    ("A16", 8.6),
    ("RTX A", 8.6),
    ("A2", 8.6),
    ("T4", 7.5),
    ("V100", 7.0),
)


def compute_capability(gpu_name: str) -> float | None:
    """The CUDA compute capability of a GPU named like nvidia-smi names it, or None.

    >>> compute_capability("NVIDIA GeForce RTX 4090"), compute_capability("NVIDIA A100-SXM4-80GB")
    (8.9, 8.0)
    >>> compute_capability("NVIDIA L40S"), compute_capability("Some Future GPU") is None
    (8.9, True)
    """
    for fragment, capability in _COMPUTE:
        if fragment.lower() in gpu_name.lower():
            return capability
    return None
