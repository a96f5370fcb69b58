"""The physical limit of decoding: memory bandwidth over the bytes read per token.

A dense model reads every weight once per generated token, plus the KV cache of every token
already in the context. So one user's decode speed cannot exceed
`bandwidth / (weights + kv_per_token × context)`: an RTX 3060 (360 GB/s) at q4_K_M
(4.68 GB) tops out near 77 tokens/s, whatever a guide claims. Concurrent requests share the
weight reads, which is why aggregate throughput can pass the single-user ceiling.

Bandwidths are the vendors' published peak figures (GB/s, 10^9 bytes); `--bandwidth`
overrides them, and a CPU's is measured (`qwenkit.bench.machine.copy_bandwidth`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..catalog import ARCH, Architecture

#: Published peak memory bandwidth in GB/s, by the distinctive part of the product name.
#: Matched on the longest key found in the lower-cased name ("rtx 3060 ti" before "rtx 3060").
GPU_BANDWIDTH_GBPS: dict[str, float] = {
    # NVIDIA GeForce
    "rtx 5090": 1792, "rtx 5080": 960, "rtx 5070 ti": 896, "rtx 5070": 672,
    "rtx 5060 ti": 448, "rtx 5060": 448,
    "rtx 4090": 1008, "rtx 4080 super": 736, "rtx 4080": 717, "rtx 4070 ti super": 672,
    "rtx 4070 ti": 504, "rtx 4070 super": 504, "rtx 4070": 504, "rtx 4060 ti": 288,
    "rtx 4060": 272,
    "rtx 3090 ti": 1008, "rtx 3090": 936, "rtx 3080 ti": 912, "rtx 3080": 760,
    "rtx 3070 ti": 608, "rtx 3070": 448, "rtx 3060 ti": 448, "rtx 3060": 360, "rtx 3050": 224,
    "rtx 2080 ti": 616, "rtx 2080 super": 496, "rtx 2080": 448, "rtx 2070 super": 448,
    "rtx 2070": 448, "rtx 2060 super": 448, "rtx 2060": 336,
    "gtx 1080 ti": 484, "gtx 1080": 320, "gtx 1070": 256, "gtx 1660 ti": 288,
    "gtx 1660 super": 336, "gtx 1660": 192,
    # NVIDIA laptop parts report "Laptop GPU"; their bandwidth is lower than the desktop's
    "rtx 4090 laptop": 576, "rtx 4080 laptop": 432, "rtx 4070 laptop": 256,
    "rtx 4060 laptop": 256, "rtx 3080 laptop": 448, "rtx 3070 laptop": 448,
    "rtx 3060 laptop": 336,
    # NVIDIA data centre and workstation
    "h200": 4800, "h100 sxm": 3350, "h100 nvl": 3900, "h100 pcie": 2000, "h100": 3350,
    "a100-sxm4-80gb": 2039, "a100 80gb pcie": 1935, "a100-pcie-80gb": 1935, "a100": 1555,
    "l40s": 864, "l40": 864, "l4": 300, "a10g": 600, "a10": 600, "a30": 933, "a40": 696,
    "t4": 320, "v100": 900, "p100": 732, "p40": 346,
    "rtx 6000 ada": 960, "rtx a6000": 768, "rtx a5000": 768, "rtx a4000": 448,
    "rtx 4000 ada": 360, "quadro rtx 8000": 672, "quadro rtx 6000": 672,
    # AMD
    "rx 9070 xt": 640, "rx 9070": 640, "rx 7900 xtx": 960, "rx 7900 xt": 800,
    "rx 7900 gre": 576, "rx 7800 xt": 624, "rx 7700 xt": 432, "rx 7600 xt": 288,
    "rx 7600": 288, "rx 6950 xt": 576, "rx 6900 xt": 512, "rx 6800 xt": 512, "rx 6800": 512,
    "rx 6750 xt": 432, "rx 6700 xt": 384, "rx 6600 xt": 256, "rx 6600": 224,
    "radeon vii": 1024, "pro w7900": 864, "pro w7800": 576,
    "mi300x": 5300, "mi300a": 5300, "mi250x": 3277, "mi250": 3277, "mi210": 1638,
    "mi100": 1229,
    # Apple Silicon (unified memory)
    "m1": 68.25, "m1 pro": 200, "m1 max": 400, "m1 ultra": 800,
    "m2": 100, "m2 pro": 200, "m2 max": 400, "m2 ultra": 800,
    "m3": 100, "m3 pro": 150, "m3 max": 400, "m3 ultra": 819,
    "m4": 120, "m4 pro": 273, "m4 max": 546,
}  # fmt: skip

GB = 1e9


def gpu_bandwidth(name: str) -> float | None:
    """GB/s for a GPU name as nvidia-smi, rocm-smi or sysctl print it; None if unknown.

    >>> gpu_bandwidth("NVIDIA GeForce RTX 3060"), gpu_bandwidth("NVIDIA GeForce RTX 3060 Ti")
    (360, 448)
    >>> gpu_bandwidth("Apple M2 Pro"), gpu_bandwidth("AMD Radeon RX 7900 XTX")
    (200, 960)
    >>> gpu_bandwidth("NVIDIA A100-SXM4-80GB"), gpu_bandwidth("Matrox G200") is None
    (2039, True)
    """
    text = " " + re.sub(r"[\s_]+", " ", name.lower()).replace("geforce ", "") + " "
    text = text.replace(" laptop gpu ", " laptop ")
    best: tuple[int, float] | None = None
    for key, value in GPU_BANDWIDTH_GBPS.items():
        if re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text) and (
            best is None or len(key) > best[0]
        ):
            best = (len(key), value)
    return best[1] if best else None


def arch_from_model_info(info: Mapping[str, Any]) -> Architecture:
    """The shapes the KV cache depends on, from `/api/show` `model_info`; Qwen2.5-7B's
    numbers for anything missing (a model that does not say is assumed to be the product's).

    >>> arch_from_model_info({"general.architecture": "qwen2", "qwen2.block_count": 2,
    ...     "qwen2.attention.head_count_kv": 2, "qwen2.embedding_length": 64,
    ...     "qwen2.attention.head_count": 4}).head_dim
    16
    """
    prefix = str(info.get("general.architecture") or "qwen2")

    def number(key: str, default: int) -> int:
        value = info.get(f"{prefix}.{key}")
        return int(value) if isinstance(value, (int, float)) and value > 0 else default

    embedding = number("embedding_length", ARCH.embedding_length)
    heads = number("attention.head_count", ARCH.head_count)
    head_dim = number("attention.key_length", embedding // heads if heads else ARCH.head_dim)
    return Architecture(
        block_count=number("block_count", ARCH.block_count),
        embedding_length=embedding,
        head_count=heads,
        head_count_kv=number("attention.head_count_kv", ARCH.head_count_kv),
        head_dim=head_dim,
        context_length=number("context_length", ARCH.context_length),
    )


@dataclass(frozen=True)
class Ceiling:
    """The single-user decode limit and the numbers it comes from."""

    bandwidth_gbps: float
    bandwidth_source: str  # "table: <gpu>", "measured: copy test", "--bandwidth"
    weights_bytes: int
    kv_bytes_per_token: int
    context_tokens: int  # the mean context while decoding (prompt + half the answer)

    @property
    def bytes_per_token(self) -> int:
        """Bytes read to make one token: every weight, plus K and V of the whole context."""
        return self.weights_bytes + self.kv_bytes_per_token * self.context_tokens

    @property
    def tokens_per_s(self) -> float:
        """
        >>> round(Ceiling(360, "t", 4_683_073_952, 0, 0).tokens_per_s, 1)
        76.9
        """
        return self.bandwidth_gbps * GB / self.bytes_per_token

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "bytes_per_token": self.bytes_per_token,
            "tokens_per_s": self.tokens_per_s,
        }


def percent_of(measured: float | None, ceiling: float | None) -> float | None:
    """`measured` as a percentage of `ceiling`.

    >>> percent_of(38.5, 77.0), percent_of(None, 77.0)
    (50.0, None)
    """
    if measured is None or not ceiling:
        return None
    return 100.0 * measured / ceiling


__all__ = [
    "GPU_BANDWIDTH_GBPS",
    "Ceiling",
    "arch_from_model_info",
    "gpu_bandwidth",
    "percent_of",
]
