"""The tiny-model generator writes what llama.cpp's qwen2 loader expects (read back with gguf)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, LlamaFileType, TokenType

from tests.live.tiny_gguf import (
    IM_END,
    SPECIAL_TOKENS,
    Shape,
    byte_bpe_vocab,
    bytes_to_unicode,
    output_bias,
    tiny_qwen2,
)


def _fields(path: Path) -> tuple[GGUFReader, dict[str, object]]:
    reader = GGUFReader(path)
    return reader, {key: field.contents() for key, field in reader.fields.items()}


def test_byte_alphabet_is_a_bijection_onto_printable_characters():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(char.isprintable() and not char.isspace() for char in table.values())
    assert table[ord("a")] == "a" and table[ord(" ")] == "Ġ"


def test_vocab_merges_join_existing_tokens_and_specials_come_after_them():
    vocab = byte_bpe_vocab(n_merges=200, added=("<tool_call>",))
    assert len(vocab) == 256 + 200 + len(SPECIAL_TOKENS) + 1
    for merge in vocab.merges:
        left, right = merge.split(" ")
        assert left in vocab.tokens and right in vocab.tokens
        assert left + right in vocab.tokens
    assert [vocab.types[vocab.id(t)] for t in SPECIAL_TOKENS] == [TokenType.CONTROL] * 3
    assert vocab.types[-1] == TokenType.USER_DEFINED and vocab.tokens[-1] == "<tool_call>"
    assert vocab.text_bytes(vocab.id("Ġt")) == b" t"
    assert vocab.text_bytes(vocab.id(IM_END)) is None
    assert len(set(vocab.tokens)) == len(vocab)


def test_printable_bias_allows_only_whole_printable_ascii_and_the_end_token():
    vocab = byte_bpe_vocab()
    bias = output_bias(vocab, "printable")
    assert bias is not None and bias.shape == (len(vocab),)
    allowed = {i for i in range(len(vocab)) if bias[i] > -1.0}
    assert vocab.id(IM_END) in allowed
    assert output_bias(vocab, "printable", end_boost=1.5)[vocab.id(IM_END)] == 1.5  # type: ignore[index]
    texts = [vocab.text_bytes(i) for i in allowed - {vocab.id(IM_END)}]
    assert all(t == b"\n" or (t is not None and t.decode("ascii").isprintable()) for t in texts)
    assert vocab.id(bytes_to_unicode()[0xC3]) not in allowed  # a UTF-8 lead byte alone
    assert len(allowed) == 95 + 1 + 200 + 1  # printable ASCII, newline, merges, <|im_end|>


def test_invalid_bias_allows_only_lone_continuation_bytes():
    vocab = byte_bpe_vocab()
    bias = output_bias(vocab, "invalid")
    assert bias is not None
    allowed = [vocab.text_bytes(i) for i in np.flatnonzero(bias == 0.0)]
    assert sorted(allowed) == [bytes([b]) for b in range(0x80, 0xC0)]  # type: ignore[type-var]
    assert output_bias(vocab, "none") is None


def test_tiny_model_has_every_qwen2_tensor_in_gguf_order(tmp_path):
    path = tiny_qwen2(tmp_path / "tiny.gguf")
    reader, kv = _fields(path)
    shape, n_vocab = Shape(), 459
    assert kv["general.architecture"] == "qwen2"
    assert kv["qwen2.context_length"] == 32768
    assert kv["qwen2.block_count"] == 2 and kv["qwen2.embedding_length"] == 64
    assert (kv["qwen2.attention.head_count"], kv["qwen2.attention.head_count_kv"]) == (4, 2)
    assert kv["qwen2.feed_forward_length"] == 128
    assert kv["tokenizer.ggml.pre"] == "qwen2" and kv["tokenizer.ggml.model"] == "gpt2"
    assert len(kv["tokenizer.ggml.tokens"]) == n_vocab  # type: ignore[arg-type]
    assert kv["tokenizer.ggml.eos_token_id"] == n_vocab - 1  # <|im_end|>
    assert "<|im_start|>" in kv["tokenizer.chat_template"]  # type: ignore[operator]
    assert "qwen2.rope.scaling.type" not in kv
    dims = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    assert dims["token_embd.weight"] == (64, n_vocab)  # GGUF lists the innermost first
    assert dims["output.weight"] == (64, n_vocab) and dims["output.bias"] == (n_vocab,)
    for i in range(shape.n_layers):
        assert dims[f"blk.{i}.attn_q.weight"] == (64, 64)
        assert dims[f"blk.{i}.attn_k.weight"] == (64, shape.kv_dim) == (64, 32)
        assert dims[f"blk.{i}.attn_v.bias"] == (32,)
        assert dims[f"blk.{i}.ffn_down.weight"] == (128, 64)
        assert dims[f"blk.{i}.ffn_gate.weight"] == (64, 128)
    assert len(dims) == 3 + 12 * shape.n_layers + 1


def test_variants_change_only_what_they_name(tmp_path):
    plain = tiny_qwen2(tmp_path / "a.gguf")
    seeded = tiny_qwen2(tmp_path / "b.gguf", file_type=LlamaFileType.MOSTLY_Q4_K_M)
    long = tiny_qwen2(tmp_path / "c.gguf", context_length=131072, yarn=(4.0, 32768))
    cut = tiny_qwen2(tmp_path / "d.gguf", bias="none")
    assert _fields(seeded)[1]["general.file_type"] == 15
    kv = _fields(long)[1]
    assert kv["qwen2.context_length"] == 131072
    assert kv["qwen2.rope.scaling.type"] == "yarn"
    assert kv["qwen2.rope.scaling.factor"] == pytest.approx(4.0)
    assert kv["qwen2.rope.scaling.original_context_length"] == 32768
    assert "output.bias" not in {t.name for t in GGUFReader(cut).tensors}
    a, b = GGUFReader(plain), GGUFReader(seeded)
    assert all(np.array_equal(x.data, y.data) for x, y in zip(a.tensors, b.tensors, strict=True))
