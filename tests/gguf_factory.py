"""Tiny synthetic qwen2 GGUF files, written with the `gguf` library, for tests and benchmarks.

The files look like Ollama's `qwen2.5:7b-instruct` model layer in every way the long-context
code cares about (architecture, context length, rope keys, tokenizer arrays of several value
types, a mix of F32 / F16 / quantized tensors) but weigh kilobytes. Tensor contents are
deterministic pseudo-random bytes, so a test can compare every byte after a rewrite.

```python
from tests.gguf_factory import make_qwen2_gguf
path = make_qwen2_gguf(tmp_path / "base.gguf")
```
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFEndian, GGUFValueType, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES

#: The KV pairs every synthetic model carries besides the ones given as arguments, with their
#: GGUF value types; chosen to cover each scalar type and arrays of strings, ints and floats.
BASE_KV: dict[str, tuple[Any, GGUFValueType, GGUFValueType | None]] = {
    "general.type": ("model", GGUFValueType.STRING, None),
    "general.name": ("Qwen2.5 7B Instruct (synthetic)", GGUFValueType.STRING, None),
    "general.file_type": (15, GGUFValueType.UINT32, None),
    "general.quantization_version": (2, GGUFValueType.UINT32, None),
    "general.parameter_count": (7_615_616_512, GGUFValueType.UINT64, None),
    "qwen2.block_count": (2, GGUFValueType.UINT32, None),
    "qwen2.embedding_length": (64, GGUFValueType.UINT32, None),
    "qwen2.feed_forward_length": (128, GGUFValueType.UINT32, None),
    "qwen2.attention.head_count": (4, GGUFValueType.UINT32, None),
    "qwen2.attention.head_count_kv": (2, GGUFValueType.UINT32, None),
    "qwen2.rope.freq_base": (1_000_000.0, GGUFValueType.FLOAT32, None),
    "qwen2.attention.layer_norm_rms_epsilon": (1e-6, GGUFValueType.FLOAT32, None),
    "tokenizer.ggml.model": ("gpt2", GGUFValueType.STRING, None),
    "tokenizer.ggml.pre": ("qwen2", GGUFValueType.STRING, None),
    "tokenizer.ggml.add_bos_token": (False, GGUFValueType.BOOL, None),
    "tokenizer.ggml.eos_token_id": (151645, GGUFValueType.UINT32, None),
    "tokenizer.ggml.padding_token_id": (151643, GGUFValueType.UINT32, None),
    "test.int8": (-7, GGUFValueType.INT8, None),
    "test.uint16": (65535, GGUFValueType.UINT16, None),
    "test.int64": (-(2**40), GGUFValueType.INT64, None),
    "test.float64": (0.1, GGUFValueType.FLOAT64, None),
    "tokenizer.chat_template": (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
        GGUFValueType.STRING,
        None,
    ),
}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: GGML shape (innermost first, as GGUF stores it) and type."""

    name: str
    shape: tuple[int, ...]
    dtype: GGMLQuantizationType

    @property
    def nbytes(self) -> int:
        block, type_size = GGML_QUANT_SIZES[self.dtype]
        return int(np.prod(self.shape)) * type_size // block


def default_tensors() -> list[TensorSpec]:
    """A two-block qwen2-shaped model: F32 norms, F16 embeddings, Q4_K and Q8_0 weights."""
    q4k, q8 = GGMLQuantizationType.Q4_K, GGMLQuantizationType.Q8_0
    f32, f16 = GGMLQuantizationType.F32, GGMLQuantizationType.F16
    specs = [TensorSpec("token_embd.weight", (64, 40), f16)]
    for i in range(2):
        specs += [
            TensorSpec(f"blk.{i}.attn_norm.weight", (64,), f32),
            TensorSpec(f"blk.{i}.attn_q.weight", (256, 64), q4k),
            TensorSpec(f"blk.{i}.attn_q.bias", (64,), f32),
            TensorSpec(f"blk.{i}.attn_k.weight", (256, 32), q8),
            TensorSpec(f"blk.{i}.ffn_down.weight", (128, 64), q8),
        ]
    specs += [
        TensorSpec("output_norm.weight", (64,), f32),
        TensorSpec("output.weight", (64, 40), f16),
    ]
    return specs


def tensor_bytes(spec: TensorSpec, seed: int = 0) -> bytes:
    """The deterministic content of one tensor (what a rewrite must reproduce exactly)."""
    rng = np.random.default_rng(zlib.crc32(f"{spec.name}:{seed}".encode()))
    return rng.integers(0, 256, size=spec.nbytes, dtype=np.uint8).tobytes()


def make_qwen2_gguf(
    path: Path,
    *,
    context_length: int = 32768,
    architecture: str = "qwen2",
    rope_scaling: Mapping[str, Any] | None = None,
    vocab_size: int = 40,
    tensors: list[TensorSpec] | None = None,
    extra_kv: Mapping[str, tuple[Any, GGUFValueType, GGUFValueType | None]] | None = None,
    alignment: int | None = None,
    big_endian: bool = False,
    seed: int = 0,
) -> Path:
    """Write a synthetic GGUF and return its path.

    `rope_scaling` adds `<arch>.rope.scaling.<key>` entries (e.g. `{"type": "yarn", "factor":
    4.0}`); `architecture` other than qwen2 renames the `qwen2.*` keys too.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    endian = GGUFEndian.BIG if big_endian else GGUFEndian.LITTLE
    writer = GGUFWriter(path, architecture, endianess=endian)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for key, (value, vtype, sub) in _kv_pairs(architecture, context_length, vocab_size, extra_kv):
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for key, value in (rope_scaling or {}).items():
        vtype = GGUFValueType.STRING if isinstance(value, str) else GGUFValueType.FLOAT32
        if isinstance(value, int) and not isinstance(value, bool):
            vtype = GGUFValueType.UINT32
        writer.add_key_value(f"{architecture}.rope.scaling.{key}", value, vtype)
    specs = default_tensors() if tensors is None else tensors
    _write_tensors(writer, specs, lambda spec: tensor_bytes(spec, seed))
    return Path(path)


def _kv_pairs(
    architecture: str,
    context_length: int,
    vocab_size: int,
    extra_kv: Mapping[str, tuple[Any, GGUFValueType, GGUFValueType | None]] | None,
) -> Iterator[tuple[str, tuple[Any, GGUFValueType, GGUFValueType | None]]]:
    yield f"{architecture}.context_length", (context_length, GGUFValueType.UINT32, None)
    for key, entry in BASE_KV.items():
        yield key.replace("qwen2.", f"{architecture}.", 1), entry
    tokens = [f"tok{i}" for i in range(vocab_size)]
    merges = [f"t o{i}" for i in range(max(vocab_size - 2, 1))]
    yield "tokenizer.ggml.tokens", (tokens, GGUFValueType.ARRAY, GGUFValueType.STRING)
    token_types = [1] * vocab_size
    yield "tokenizer.ggml.token_type", (token_types, GGUFValueType.ARRAY, GGUFValueType.INT32)
    yield "tokenizer.ggml.merges", (merges, GGUFValueType.ARRAY, GGUFValueType.STRING)
    yield "test.float_array", ([0.5, -1.25, 3.0], GGUFValueType.ARRAY, GGUFValueType.FLOAT32)
    yield from (extra_kv or {}).items()


def _write_tensors(writer: GGUFWriter, specs: list[TensorSpec], content: Any) -> None:
    """Header first, then one tensor at a time, so even a 1 GB file needs little memory."""
    for spec in specs:
        writer.add_tensor_info(
            spec.name, _byte_shape(spec), np.dtype(np.uint8), spec.nbytes, raw_dtype=spec.dtype
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for spec in specs:
        data = np.frombuffer(content(spec), dtype=np.uint8).reshape(_byte_shape(spec))
        writer.write_tensor_data(data)
    writer.close()


def _byte_shape(spec: TensorSpec) -> tuple[int, ...]:
    """numpy byte shape the writer expects for raw data (outermost first, last dim in bytes)."""
    block, type_size = GGML_QUANT_SIZES[spec.dtype]
    inner = spec.shape[0] // block * type_size
    return (*reversed(spec.shape[1:]), inner)


def big_tensors(total_bytes: int, *, chunk: int = 64 << 20) -> list[TensorSpec]:
    """Q8_0 tensors adding up to about `total_bytes` (for the 1 GB benchmark)."""
    block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType.Q8_0]
    rows = chunk // type_size
    count = max(1, total_bytes // chunk)
    return [
        TensorSpec(f"blk.{i}.ffn_up.weight", (block * 32, rows // 32), GGMLQuantizationType.Q8_0)
        for i in range(count)
    ]
