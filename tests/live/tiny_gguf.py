"""Tiny random-weight qwen2 GGUFs that a real Ollama loads and runs on a CPU in milliseconds.

Unlike `tests/gguf_factory.py` (random bytes: right headers, unrunnable tensors), these files
are real models: a byte-level BPE vocabulary the `qwen2` pre-tokenizer accepts, the Qwen
special tokens, a ChatML chat template and every tensor llama.cpp's qwen2 graph needs
(2 layers, embedding 64, 4 heads / 2 KV heads, feed-forward 128, q/k/v biases), f32.

The pieces are separate so other tests can build on them (e.g. models scripted to emit an
exact text): `byte_bpe_vocab` (with `added=` tokens), `qwen2_tensors` (a dict of numpy arrays
to edit before writing), `output_bias`, `write_gguf`, and `qwen2_writer` (the keys alone, for
files whose tensors are written another way).

```python
from tests.live.tiny_gguf import tiny_qwen2
tiny_qwen2(tmp_path / "tiny.gguf")                          # answers in printable ASCII
tiny_qwen2(tmp_path / "cut.gguf", bias="invalid")           # emits lone UTF-8 continuation bytes
tiny_qwen2(tmp_path / "long.gguf", context_length=131072, yarn=(4.0, 32768))
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from gguf import GGUFWriter, LlamaFileType, RopeScalingType, TokenType

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)

#: Hugging Face's ChatML template, as Qwen GGUFs carry it (Ollama autodetects "chatml" from it).
CHATML_JINJA = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: Letters merged into two-byte tokens, most frequent English letters first.
_MERGE_LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
#: Logit offset that keeps a token from ever being sampled.
FORBID = -1.0e9

Bias = Literal["printable", "none", "invalid"]


@cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level BPE alphabet: every byte as one printable character."""
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


@dataclass(frozen=True)
class Vocab:
    """Token strings (GPT-2 alphabet), their llama.cpp token types, and the BPE merges."""

    tokens: tuple[str, ...]
    types: tuple[int, ...]
    merges: tuple[str, ...]

    def id(self, token: str) -> int:
        return self.tokens.index(token)

    def __len__(self) -> int:
        return len(self.tokens)

    def text_bytes(self, token_id: int) -> bytes | None:
        """The bytes a normal token stands for; None for special and added tokens."""
        if self.types[token_id] != TokenType.NORMAL:
            return None
        decode = {char: byte for byte, char in bytes_to_unicode().items()}
        return bytes(decode[char] for char in self.tokens[token_id])


def byte_bpe_vocab(n_merges: int = 200, added: Sequence[str] = ()) -> Vocab:
    """256 byte tokens, `n_merges` two-letter merges (space+letter first), the Qwen special
    tokens, then `added` user-defined tokens (which the tokenizer matches verbatim)."""
    alphabet = bytes_to_unicode()
    tokens = [alphabet[b] for b in range(256)]
    space = alphabet[ord(" ")]
    pairs = [(space, c) for c in _MERGE_LETTERS]
    pairs += [(a, b) for a in _MERGE_LETTERS for b in _MERGE_LETTERS]
    if n_merges > len(pairs):
        raise ValueError(f"at most {len(pairs)} merges")
    merges = [f"{a} {b}" for a, b in pairs[:n_merges]]
    tokens += [a + b for a, b in pairs[:n_merges]]
    types = [TokenType.NORMAL] * len(tokens)
    tokens += SPECIAL_TOKENS
    types += [TokenType.CONTROL] * len(SPECIAL_TOKENS)
    tokens += added
    types += [TokenType.USER_DEFINED] * len(added)
    return Vocab(tuple(tokens), tuple(int(t) for t in types), tuple(merges))


@dataclass(frozen=True)
class Shape:
    """Hyper-parameters of the qwen2 graph (head dim = n_embd / n_head)."""

    n_layers: int = 2
    n_embd: int = 64
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 128

    @property
    def kv_dim(self) -> int:
        return self.n_embd // self.n_head * self.n_head_kv


def qwen2_tensors(
    shape: Shape, n_vocab: int, *, seed: int = 0, scale: float = 0.05
) -> dict[str, np.ndarray]:
    """Every tensor llama.cpp's qwen2 model loads, in numpy order (outermost dimension first:
    a weight mapping `n_in` to `n_out` is `(n_out, n_in)`), random normal, norms at one."""
    rng = np.random.default_rng(seed)

    def rand(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims) * scale).astype(np.float32)

    e, kv, ff = shape.n_embd, shape.kv_dim, shape.n_ff
    out = {"token_embd.weight": rand(n_vocab, e) / scale}  # unit-size embeddings
    for i in range(shape.n_layers):
        blk = f"blk.{i}."
        out |= {
            blk + "attn_norm.weight": np.ones(e, np.float32),
            blk + "attn_q.weight": rand(e, e),
            blk + "attn_q.bias": rand(e),
            blk + "attn_k.weight": rand(kv, e),
            blk + "attn_k.bias": rand(kv),
            blk + "attn_v.weight": rand(kv, e),
            blk + "attn_v.bias": rand(kv),
            blk + "attn_output.weight": rand(e, e),
            blk + "ffn_norm.weight": np.ones(e, np.float32),
            blk + "ffn_gate.weight": rand(ff, e),
            blk + "ffn_up.weight": rand(ff, e),
            blk + "ffn_down.weight": rand(e, ff),
        }
    out["output_norm.weight"] = np.ones(e, np.float32)
    out["output.weight"] = rand(n_vocab, e)
    return out


def output_bias(vocab: Vocab, kind: Bias, *, end_boost: float = 1.0) -> np.ndarray | None:
    """The `output.bias` that decides which tokens can ever be sampled.

    "printable": only tokens that are complete printable ASCII, plus `<|im_end|>` raised by
    `end_boost` (with Ollama's default top_k 40, answers end on their own after ten or so
    tokens). Without this bias the runner meets invalid UTF-8 and cuts the answer
    (ollama-api.md §10). "invalid": only lone UTF-8 continuation bytes, so every answer is
    cut at once. "none": no bias tensor at all.
    """
    if kind == "none":
        return None
    bias = np.full(len(vocab), FORBID, np.float32)
    allowed = _printable if kind == "printable" else _lone_continuation
    for token_id in range(len(vocab)):
        text = vocab.text_bytes(token_id)
        if text is not None and allowed(text):
            bias[token_id] = 0.0
    if kind == "printable":
        bias[vocab.id(IM_END)] = end_boost
    return bias


def _printable(text: bytes) -> bool:
    return all(0x20 <= b < 0x7F or b == 0x0A for b in text)


def _lone_continuation(text: bytes) -> bool:
    return len(text) == 1 and 0x80 <= text[0] < 0xC0


def write_gguf(path: Path, vocab: Vocab, tensors: Mapping[str, np.ndarray], **header: Any) -> Path:
    """Write a qwen2 GGUF with f32 `tensors`; `header` goes to `qwen2_writer`."""
    w = qwen2_writer(path, vocab, **header)
    for tensor_name, array in tensors.items():
        w.add_tensor(tensor_name, np.ascontiguousarray(array, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


def qwen2_writer(
    path: Path,
    vocab: Vocab,
    *,
    shape: Shape = Shape(),
    context_length: int = 32768,
    yarn: tuple[float, int] | None = None,
    file_type: int = LlamaFileType.ALL_F32,
    name: str = "qwenkit tiny qwen2",
    chat_template: str | None = CHATML_JINJA,
    extra_kv: Mapping[str, Any] | None = None,
) -> GGUFWriter:
    """A `GGUFWriter` holding every qwen2 key (hyper-parameters, tokenizer, template), ready
    for tensors. `yarn=(factor, original_context)` adds the rope.scaling keys; `file_type` is
    only the label Ollama reports (e.g. `LlamaFileType.MOSTLY_Q4_K_M`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(path, "qwen2")
    w.add_name(name)
    w.add_file_type(int(file_type))
    w.add_context_length(context_length)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layers)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    if yarn is not None:
        w.add_rope_scaling_type(RopeScalingType.YARN)
        w.add_rope_scaling_factor(yarn[0])
        w.add_rope_scaling_orig_ctx_len(yarn[1])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(list(vocab.tokens))
    w.add_token_types(list(vocab.types))
    w.add_token_merges(list(vocab.merges))
    w.add_bos_token_id(vocab.id(ENDOFTEXT))
    w.add_eos_token_id(vocab.id(IM_END))
    w.add_pad_token_id(vocab.id(ENDOFTEXT))
    w.add_add_bos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    for key, value in (extra_kv or {}).items():
        if isinstance(value, str):
            w.add_string(key, value)
        else:
            w.add_uint32(key, value)
    return w


def tiny_qwen2(
    path: Path,
    *,
    bias: Bias = "printable",
    context_length: int = 32768,
    yarn: tuple[float, int] | None = None,
    file_type: int = LlamaFileType.ALL_F32,
    seed: int = 0,
    end_boost: float = 1.0,
) -> Path:
    """The standard tiny model (459 tokens); see the module docstring for the variants.
    `end_boost=FORBID` makes a model that never ends on its own (always `length`)."""
    vocab, shape = byte_bpe_vocab(), Shape()
    tensors = qwen2_tensors(shape, len(vocab), seed=seed)
    bias_tensor = output_bias(vocab, bias, end_boost=end_boost)
    if bias_tensor is not None:
        tensors["output.bias"] = bias_tensor
    return write_gguf(
        path, vocab, tensors, shape=shape, context_length=context_length, yarn=yarn,
        file_type=file_type,
    )  # fmt: skip
