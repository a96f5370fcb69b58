"""Tiny qwen2 GGUFs scripted to answer an exact text, whatever the prompt and sampling.

Built on `tiny_gguf`: the attention and feed-forward output matrices are zero, so the
residual stream is the current token's embedding and the next token depends on the current
one only. Each piece of a script is an added vocabulary token with its own orthogonal
embedding direction; every other token shares one more direction. `output.weight` is then a
successor table: piece -> next piece, last piece -> `<|im_end|>`, every other token -> the
first piece, each with a margin of `MARGIN` logits over everything else, which no
temperature, top-k or repeat penalty can overturn.

A model can carry a second script as a fallback: every other token also points at its first
piece, `FALLBACK` logits up. Unconstrained, the first script wins; under a JSON grammar
(`format=`) that rejects `<tool_call>`, the fallback JSON script is the best allowed token.

`replay` runs the model in numpy, so a wrong table fails in the unit tests, not on a server.

```python
from tests.live.scripted_gguf import scripted_qwen2, WEATHER_CALL, WEATHER_JSON
scripted_qwen2(tmp_path / "weather.gguf", WEATHER_CALL)
scripted_qwen2(tmp_path / "base.gguf", TIME_CALL, fallback=OK_JSON)  # setup's verification
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import LlamaFileType

from tests.live.tiny_gguf import (
    IM_END,
    Shape,
    Vocab,
    byte_bpe_vocab,
    bytes_to_unicode,
    qwen2_tensors,
    write_gguf,
)

#: logits between the scripted next token and every other token
MARGIN = 50.0
#: logits of a fallback script's first piece after a token outside every script (the main
#: script's first piece stays MARGIN - FALLBACK above it)
FALLBACK = 25.0
RMS_EPS = 1e-6

WEATHER_CALL = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Beijing"}}\n</tool_call>'
)
#: what setup's verification asks for (qwenkit.setup.verify.PROBE_TOOL)
TIME_CALL = (
    '<tool_call>\n{"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}'
    "\n</tool_call>"
)
WEATHER_JSON = '{"city": "Beijing", "temp_c": 21}'
#: with `endless=True`: a JSON string that never closes ("xxxxyyyy" forever)
UNCLOSED_JSON = '{"ok": "xxxxyyyy'
OK_JSON = '{"ok": true, "name": "qwenkit"}'

#: the text a chat prompt ends with: no piece may end it, or the prompt's last token
#: would be a piece and the answer would start in the middle of the script
_PROMPT_TAIL = "assistant\n"


def split_script(text: str, taken: Sequence[str] = (), size: int = 4) -> tuple[str, ...]:
    """`text` in pieces of about `size` characters, each unlike every token in `taken`
    and every earlier piece (a piece is one token: its successor must be unambiguous).

    >>> split_script('{"a": 1, "b": 2}', size=4)
    ('{"a"', ': 1,', ' "b"', ': 2}')
    """
    used = set(taken)
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        while end < len(text) and _clashes(text[start:end], used):
            end += 1
        piece = text[start:end]
        if _clashes(piece, used):  # a tail that repeats: join it to the piece before
            if not pieces:
                raise ValueError(f"cannot split {text!r} into unique pieces")
            used.discard(pieces[-1])
            piece = pieces.pop() + piece
        pieces.append(piece)
        used.add(piece)
        start = end
    return tuple(pieces)


def _clashes(piece: str, used: set[str]) -> bool:
    return piece in used or _PROMPT_TAIL.endswith(piece)


@dataclass(frozen=True)
class ScriptedModel:
    """A vocabulary with the scripts' pieces added, the tensors, and the scripts as pieces."""

    vocab: Vocab
    tensors: dict[str, np.ndarray]
    scripts: tuple[tuple[str, ...], ...]

    def first_ids(self) -> list[int]:
        return [self.vocab.id(script[0]) for script in self.scripts]


def scripted_model(
    script: str,
    *,
    fallback: str | None = None,
    endless: bool = False,
    shape: Shape | None = None,
    seed: int = 0,
) -> ScriptedModel:
    """Vocabulary and tensors of a model that answers `script` (or `fallback` when a
    grammar forbids the script's first token). `endless`: the script's last two pieces
    alternate forever instead of ending the answer (e.g. a JSON string that never closes);
    two, because Ollama silently cuts an answer that repeats one token 31 times."""
    shape = shape or Shape()
    base = byte_bpe_vocab()
    texts = [script] if fallback is None else [script, fallback]
    scripts: list[tuple[str, ...]] = []
    for text in texts:
        taken = [*_base_texts(base), *(p for s in scripts for p in s)]
        scripts.append(split_script(text, taken))
    pieces = [p for s in scripts for p in s]
    if len(pieces) + 1 > shape.n_embd:
        raise ValueError(f"{len(pieces)} pieces need n_embd > {len(pieces)}")
    vocab = byte_bpe_vocab(added=pieces)
    tensors = qwen2_tensors(shape, len(vocab), seed=seed)
    for i in range(shape.n_layers):
        tensors[f"blk.{i}.attn_output.weight"][:] = 0.0
        tensors[f"blk.{i}.ffn_down.weight"][:] = 0.0
    # direction 0: any token outside the scripts; direction k: the k-th piece
    embd = np.zeros((len(vocab), shape.n_embd), np.float32)
    embd[:, 0] = 1.0
    direction = {}
    for k, piece in enumerate(pieces, start=1):
        row = vocab.id(piece)
        embd[row] = 0.0
        embd[row, k] = 1.0
        direction[piece] = k
    tensors["token_embd.weight"] = embd
    # RMSNorm turns a unit basis vector into 1 / sqrt(1/n + eps) times itself
    unit = float(np.sqrt(1.0 / shape.n_embd + RMS_EPS))
    out = np.zeros((len(vocab), shape.n_embd), np.float32)
    for rank, s in enumerate(scripts):
        out[vocab.id(s[0]), 0] = (MARGIN if rank == 0 else FALLBACK) * unit
        last = s[-2] if endless and rank == 0 else IM_END
        for piece, after in zip(s, [*s[1:], last], strict=True):
            out[vocab.id(after), direction[piece]] = MARGIN * unit
    tensors["output.weight"] = out
    return ScriptedModel(vocab, tensors, tuple(scripts))


def _base_texts(vocab: Vocab) -> list[str]:
    """What each base token stands for as raw text (added pieces are raw text too)."""
    decode = {char: byte for byte, char in bytes_to_unicode().items()}
    return [bytes(decode.get(c, 0) for c in t).decode("latin-1") for t in vocab.tokens] + list(
        vocab.tokens
    )


def logits(model: ScriptedModel, token_id: int) -> np.ndarray:
    """The model's next-token logits after `token_id`, computed as llama.cpp's qwen2 graph
    does once the attention and FFN outputs are zero: RMSNorm(embedding) @ output.weight."""
    x = model.tensors["token_embd.weight"][token_id].astype(np.float64)
    normed = x / np.sqrt(np.mean(x * x) + RMS_EPS) * model.tensors["output_norm.weight"]
    return np.asarray(model.tensors["output.weight"] @ normed)


def replay(
    model: ScriptedModel,
    last_prompt_token: int,
    *,
    banned: Sequence[int] = (),
    limit: int = 200,
    endless: bool = False,
) -> tuple[str, float]:
    """Greedy decoding from `last_prompt_token` to `<|im_end|>`: the answer text, and the
    smallest gap between the chosen and the runner-up logit. `banned` tokens are never
    chosen (what a grammar does to a token it rejects). `endless`: `limit` tokens are the
    answer, not an error."""
    text: list[str] = []
    gap = float("inf")
    token, end = last_prompt_token, model.vocab.id(IM_END)
    for _ in range(limit):
        scores = logits(model, token)
        scores[list(banned)] = -np.inf
        order = np.argsort(scores)[::-1]
        token = int(order[0])
        gap = min(gap, float(scores[order[0]] - scores[order[1]]))
        if token == end:
            return "".join(text), gap
        text.append(model.vocab.tokens[token])
    if endless:
        return "".join(text), gap
    raise AssertionError(f"no {IM_END} after {limit} tokens: {''.join(text)[:200]!r}")


def scripted_qwen2(
    path: Path,
    script: str,
    *,
    fallback: str | None = None,
    endless: bool = False,
    file_type: int = LlamaFileType.ALL_F32,
    name: str = "qwenkit scripted qwen2",
) -> Path:
    """Write a model that answers `script` (see the module docstring), checked by `replay`."""
    model = scripted_model(script, fallback=fallback, endless=endless)
    newline = model.vocab.id(bytes_to_unicode()[ord("\n")])
    answer, gap = replay(model, newline, endless=endless)
    if endless:  # the script, then its last two pieces over and over
        cycle, tail = "".join(model.scripts[0][-2:]), answer[len(script) :]
        answer = answer[: len(script)] if (cycle * len(tail)).startswith(tail) else answer
    least = MARGIN if fallback is None else min(FALLBACK, MARGIN - FALLBACK)
    if answer != script or gap < least - 0.01:
        raise AssertionError(f"scripted model replays {answer!r} (margin {gap:.1f})")
    return write_gguf(path, model.vocab, model.tensors, file_type=file_type, name=name)
