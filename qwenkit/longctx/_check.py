"""The long-input check: a pass key buried in the middle of ~N tokens, asked for at the end.

A model that answers with the key really attended across the whole prompt; one whose context
is smaller than the prompt sees it cut (Ollama keeps the end) and cannot. The server's own
`prompt_eval_count` tells the two cases apart, so a truncated prompt never counts as a pass.
The prompt builder and the answer check are pure; only `long_input_check` talks to a server.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .._common.events import Event
from ..errors import QwenkitError

if TYPE_CHECKING:
    from ..client import Client

FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
)
FILLER_TOKENS = 24  # Qwen2 BPE: one token per word and per full stop
_FRAME_TOKENS = 60  # the instruction before the filler and the question after it


@dataclass(frozen=True)
class PasskeyPrompt:
    """A prompt of about `approx_tokens` tokens with `passkey` stated in the middle."""

    prompt: str
    passkey: str
    approx_tokens: int


def passkey_prompt(n_tokens: int, *, seed: int | None = None, depth: float = 0.5) -> PasskeyPrompt:
    """Build the pass-key retrieval prompt (filler, the fact at `depth`, filler, question).

    >>> p = passkey_prompt(1000, seed=1)
    >>> p.passkey in p.prompt and 900 <= p.approx_tokens <= 1100
    True
    """
    if n_tokens < 100:
        raise QwenkitError(f"a long-input check needs at least 100 tokens, not {n_tokens}")
    rng = random.Random(seed)
    passkey, session = str(rng.randint(10000, 99999)), rng.randint(1000, 9999)
    fact = f"The pass key is {passkey}. Remember it. {passkey} is the pass key. "
    units = max(1, (n_tokens - _FRAME_TOKENS) // FILLER_TOKENS)
    before = round(units * depth)
    prompt = (  # the session number up front defeats prompt-cache reuse between runs
        f"Session {session}. There is an important pass key hidden inside a lot of "
        "irrelevant text. Find it and memorize it.\n\n"
        + FILLER * before
        + fact
        + FILLER * (units - before)
        + "\nWhat is the pass key? Answer with the number only."
    )
    return PasskeyPrompt(prompt, passkey, units * FILLER_TOKENS + _FRAME_TOKENS)


def answer_has_passkey(answer: str, passkey: str) -> bool:
    """True when the answer states the pass key as a whole number.

    >>> answer_has_passkey("The pass key is 48213.", "48213"), answer_has_passkey("148213", "48213")
    (True, False)
    """
    return passkey in re.findall(r"\d+", answer.replace(",", ""))


@dataclass(frozen=True)
class LongInputResult(Event):
    """Outcome of `long_input_check`; `prompt_tokens` is what the server really evaluated."""

    kind: ClassVar[str] = "long_check"
    model: str
    passed: bool
    passkey: str
    answer: str
    requested_tokens: int
    prompt_tokens: int | None
    seconds: float
    truncated: bool


def long_input_check(
    client: Client,
    model: str,
    n_tokens: int,
    *,
    num_ctx: int | None = None,
    seed: int | None = None,
) -> LongInputResult:
    """Send ~`n_tokens` with a pass key in the middle; pass when the answer repeats it.

    `truncated` is set when the server evaluated clearly fewer tokens than were sent (the
    context was smaller than the prompt); then a pass proves nothing about long inputs.
    """
    built = passkey_prompt(n_tokens, seed=seed)
    options: dict[str, Any] = {"temperature": 0, "num_predict": 16}
    if num_ctx is not None:
        options["num_ctx"] = num_ctx
    start = time.monotonic()
    reply = client.chat(model, [{"role": "user", "content": built.prompt}], options=options)
    seconds = time.monotonic() - start
    answer = reply.message.content or ""
    evaluated = getattr(reply, "prompt_eval_count", None)
    truncated = evaluated is not None and evaluated < 0.8 * built.approx_tokens
    return LongInputResult(
        model,
        answer_has_passkey(answer, built.passkey) and not truncated,
        built.passkey,
        answer.strip(),
        built.approx_tokens,
        evaluated,
        seconds,
        truncated,
    )


__all__ = [
    "FILLER",
    "LongInputResult",
    "PasskeyPrompt",
    "answer_has_passkey",
    "long_input_check",
    "passkey_prompt",
]
