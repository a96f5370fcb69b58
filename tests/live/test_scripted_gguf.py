"""The scripted models answer their script exactly: replayed in numpy, and as written to disk."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGUFReader, TokenType

from tests.live.scripted_gguf import (
    FALLBACK,
    MARGIN,
    OK_JSON,
    TIME_CALL,
    UNCLOSED_JSON,
    WEATHER_CALL,
    WEATHER_JSON,
    logits,
    replay,
    scripted_model,
    scripted_qwen2,
    split_script,
)
from tests.live.tiny_gguf import IM_END, IM_START, bytes_to_unicode


@pytest.mark.parametrize("script", [WEATHER_CALL, TIME_CALL, WEATHER_JSON, OK_JSON])
def test_every_token_outside_the_script_leads_into_it_with_a_wide_margin(script):
    model = scripted_model(script)
    alphabet = bytes_to_unicode()
    for start in (IM_START, IM_END, alphabet[ord("\n")], alphabet[ord("x")], "Ġt"):
        answer, gap = replay(model, model.vocab.id(start))
        assert answer == script
        assert gap == pytest.approx(MARGIN, abs=0.01)


def test_a_fallback_script_answers_only_when_the_first_token_is_forbidden():
    model = scripted_model(TIME_CALL, fallback=OK_JSON)
    newline = model.vocab.id(bytes_to_unicode()[ord("\n")])
    assert replay(model, newline)[0] == TIME_CALL
    first_call, first_json = model.first_ids()
    answer, gap = replay(model, newline, banned=[first_call])
    assert answer == OK_JSON and gap == pytest.approx(FALLBACK, abs=0.01)
    scores = logits(model, newline)
    assert scores[first_call] - scores[first_json] == pytest.approx(MARGIN - FALLBACK, abs=0.01)


def test_pieces_are_new_unique_tokens_that_cannot_end_a_chat_prompt():
    model = scripted_model(WEATHER_CALL, fallback=WEATHER_JSON)
    pieces = [p for script in model.scripts for p in script]
    assert ["".join(s) for s in model.scripts] == [WEATHER_CALL, WEATHER_JSON]
    assert len(set(pieces)) == len(pieces) == len(model.vocab) - 459
    assert all(model.vocab.types[model.vocab.id(p)] == TokenType.USER_DEFINED for p in pieces)
    assert not any("assistant\n".endswith(p) for p in pieces)


def test_split_script_joins_a_repeated_tail_to_the_piece_before():
    assert split_script("abcdabcd", size=4) == ("abcdabcd",)
    assert split_script("abcdabcdx", size=4) == ("abcd", "abcdx")
    assert split_script("xyz", taken=["xyz"], size=2) == ("xy", "z")
    with pytest.raises(ValueError, match="unique pieces"):
        split_script("ab", taken=["ab", "a"], size=1)


def test_the_written_file_has_the_table_and_silent_layers(tmp_path):
    path = scripted_qwen2(tmp_path / "weather.gguf", WEATHER_CALL)
    reader = GGUFReader(path)
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    for i in range(2):
        assert not tensors[f"blk.{i}.attn_output.weight"].any()
        assert not tensors[f"blk.{i}.ffn_down.weight"].any()
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert "<tool_call" in "".join(tokens[459:])
    assert "output.bias" not in tensors


def test_an_endless_script_alternates_its_last_two_pieces_and_never_ends(tmp_path):
    model = scripted_model(UNCLOSED_JSON, endless=True)
    start = model.vocab.id(IM_START)
    assert model.scripts[0][-2:] == ("xxxx", "yyyy")
    text, gap = replay(model, start, limit=50, endless=True)
    assert text == UNCLOSED_JSON + "xxxxyyyy" * 23
    assert gap == pytest.approx(MARGIN, abs=0.01)
    with pytest.raises(AssertionError, match=r"no <\|im_end\|>"):
        replay(model, start, limit=50)
    assert scripted_qwen2(tmp_path / "endless.gguf", UNCLOSED_JSON, endless=True).is_file()
