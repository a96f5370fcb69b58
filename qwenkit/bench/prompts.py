"""Synthetic, reproducible prompts of a chosen length in tokens.

Ollama has no tokenize endpoint, so the length is calibrated: two short requests report
their `prompt_eval_count`, and a straight line through them (template tokens + tokens per
word) says how many words make N tokens. Every prompt starts with its own seeded words, so
Ollama's prompt cache cannot skip the prefill of one request because of another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Plain English words: stable tokenisation, no special characters.
_TEXT = (
    "river stone garden window market silver engine forest letter winter harbor candle "
    "pattern orange thunder meadow bridge camera signal planet ladder copper blanket "
    "doctor island button canvas rocket pepper violin shadow marble tunnel feather "
    "lantern compass saddle kettle walnut glacier orchard parcel quartz ribbon summit "
    "timber velvet beacon cactus dolphin falcon harvest ivory jacket kingdom lemon "
    "mirror nectar oyster pillow quiver saffron tractor umbrella voyage wagon yellow"
)
WORDS = tuple(_TEXT.split())

INSTRUCTION = "Continue this list of words with more words, one after another:"

CALIBRATION_WORDS = (16, 160)


def make_prompt(seed: int, words: int) -> str:
    """`words` seeded random words after a fixed instruction; the same seed, the same text.

    >>> make_prompt(1, 3) == make_prompt(1, 3), make_prompt(1, 3) == make_prompt(2, 3)
    (True, False)
    >>> len(make_prompt(7, 10).split()) - len(INSTRUCTION.split())
    10
    """
    rng = random.Random(seed)
    return " ".join([INSTRUCTION, *rng.choices(WORDS, k=max(words, 0))])


@dataclass(frozen=True)
class Calibration:
    """`prompt_eval_count ≈ overhead + per_word × words` for this model and template."""

    overhead: float
    per_word: float

    @classmethod
    def fit(cls, points: list[tuple[int, int]]) -> Calibration:
        """A line through (words, prompt_eval_count) points; one word is one token when
        the server reported nothing usable.

        >>> Calibration.fit([(16, 56), (160, 344)])
        Calibration(overhead=24.0, per_word=2.0)
        """
        (w1, t1), (w2, t2) = points[0], points[-1]
        if w2 == w1 or t2 <= t1:
            return cls(overhead=float(max(t1 - w1, 0)), per_word=1.0)
        per_word = (t2 - t1) / (w2 - w1)
        return cls(overhead=max(t1 - per_word * w1, 0.0), per_word=per_word)

    def words_for(self, tokens: int) -> int:
        """How many words make a prompt of about `tokens` tokens (at least one).

        >>> Calibration(24.0, 2.0).words_for(512), Calibration(24.0, 2.0).words_for(5)
        (244, 1)
        """
        return max(1, round((tokens - self.overhead) / self.per_word))


__all__ = ["CALIBRATION_WORDS", "Calibration", "make_prompt"]
