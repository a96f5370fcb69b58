"""A GGUF with Qwen2.5-7B-Instruct's exact shapes and q4_K_M's tensor types, all weights zero.

What a server allocates for a model depends on its shapes and tensor types, never on the
weights, so this file makes a real Ollama allocate what it would for `qwen2.5:7b-instruct`
(4,677,120,000 bytes of tensors, as llama-server's model buffers report) without the
download. The types follow llama.cpp's q4_K_M recipe (`src/llama-quant.cpp:430, 553, 613`):
Q4_K everywhere, Q6_K for `output` and for `attn_v` / `ffn_down` in the layers
`use_more_bits` picks; norms and biases f32. The tensor data is a sparse run of zeros, so
writing the 4.7 GB file takes a second and almost no disk until it is uploaded.

```python
from tests.live.qwen7b_gguf import write_qwen7b
write_qwen7b(tmp / "q7b.gguf")                                        # 32768 tokens
write_qwen7b(tmp / "q7b-yarn.gguf", context_length=131072, yarn=(4.0, 32768))
```
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType
from gguf.constants import GGML_QUANT_SIZES

from tests.live.tiny_gguf import Shape, byte_bpe_vocab, qwen2_writer

SHAPE = Shape(n_layers=28, n_embd=3584, n_head=28, n_head_kv=4, n_ff=18944)
N_VOCAB = 152064
Q4_K, Q6_K, F32 = GGMLQuantizationType.Q4_K, GGMLQuantizationType.Q6_K, GGMLQuantizationType.F32

Tensor = tuple[str, tuple[int, ...], GGMLQuantizationType]  # name, GGML shape (inner first), type


def use_more_bits(layer: int, layers: int) -> bool:
    """llama.cpp's choice of the layers that keep more bits (`llama-quant.cpp:430`)."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def q4_k_m_tensors(shape: Shape = SHAPE, n_vocab: int = N_VOCAB) -> list[Tensor]:
    """Every tensor of the qwen2 graph with the type q4_K_M gives it."""
    e, kv, ff = shape.n_embd, shape.kv_dim, shape.n_ff
    out: list[Tensor] = [("token_embd.weight", (e, n_vocab), Q4_K)]
    for i in range(shape.n_layers):
        more = Q6_K if use_more_bits(i, shape.n_layers) else Q4_K
        blk = f"blk.{i}."
        out += [
            (blk + "attn_norm.weight", (e,), F32),
            (blk + "attn_q.weight", (e, e), Q4_K),
            (blk + "attn_q.bias", (e,), F32),
            (blk + "attn_k.weight", (e, kv), Q4_K),
            (blk + "attn_k.bias", (kv,), F32),
            (blk + "attn_v.weight", (e, kv), more),
            (blk + "attn_v.bias", (kv,), F32),
            (blk + "attn_output.weight", (e, e), Q4_K),
            (blk + "ffn_norm.weight", (e,), F32),
            (blk + "ffn_gate.weight", (e, ff), Q4_K),
            (blk + "ffn_up.weight", (e, ff), Q4_K),
            (blk + "ffn_down.weight", (ff, e), more),
        ]
    return [*out, ("output_norm.weight", (e,), F32), ("output.weight", (e, n_vocab), Q6_K)]


def nbytes(tensor: Tensor) -> int:
    _, dims, kind = tensor
    block, size = GGML_QUANT_SIZES[kind]
    return int(np.prod(dims)) // block * size


def write_qwen7b(
    path: Path, *, context_length: int = 32768, yarn: tuple[float, int] | None = None
) -> Path:
    """Write the file (see the module docstring) and return its path."""
    padding = [f"<|pad_{i}|>" for i in range(N_VOCAB - len(byte_bpe_vocab()))]
    vocab = byte_bpe_vocab(added=padding)
    w = qwen2_writer(
        path, vocab, shape=SHAPE, context_length=context_length, yarn=yarn,
        file_type=LlamaFileType.MOSTLY_Q4_K_M, name="qwenkit zero-weight Qwen2.5-7B q4_K_M",
    )  # fmt: skip
    data = 0
    for tensor in q4_k_m_tensors():
        name, dims, kind = tensor
        block, size = GGML_QUANT_SIZES[kind]
        byte_shape = (*reversed(dims[1:]), dims[0] // block * size)
        w.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes(tensor), raw_dtype=kind)
        data += GGUFWriter.ggml_pad(nbytes(tensor), w.data_alignment)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    out = w.fout[0]
    out.flush()
    start = GGUFWriter.ggml_pad(out.tell(), w.data_alignment)
    out.truncate(start + data)  # the tensor data: zeros, as a hole in the file
    w.close()
    return Path(path)
