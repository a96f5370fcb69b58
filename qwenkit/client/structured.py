"""Structured output: send a pydantic model's schema as `format`, validate, re-ask on failure.

The re-ask is a sans-I/O flow (see `qwenkit.client._steps`): it yields requests and receives
answers, so the same code serves `Client` and `AsyncClient`, streamed or not. A wrong answer
goes back to the model as an assistant message followed by a user message naming the errors;
after `max_retries` re-asks `StructuredOutputError` carries the last raw text and errors.
An answer cut at the length limit raises `TruncatedOutputError` at once: asking again with the
same limit would be cut again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import StructuredOutputError, TruncatedOutputError
from ._requests import message_dict, schema_for
from ._steps import Flow

M = TypeVar("M", bound=BaseModel)

Ask = Callable[[list[dict[str, Any]]], Flow]


def strip_fences(text: str) -> str:
    """Drop a Markdown code fence a model may wrap JSON in when decoding was not constrained.

    >>> strip_fences('```json\\n{"a": 1}\\n```')
    '{"a": 1}'
    >>> strip_fences(' {"a": 1} ')
    '{"a": 1}'
    """
    text = text.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3]
        first, _, rest = text.partition("\n")
        text = rest if first.strip().isalnum() or not first.strip() else text
    return text.strip()


def parse_answer(raw: str, model: type[M]) -> M:
    """Validate the answer text into `model` (raises `ValidationError`)."""
    return model.model_validate_json(strip_fences(raw))


def reask_text(errors: list[Any]) -> str:
    """The user message that names what was wrong with the last answer.

    >>> print(reask_text([{"loc": ("age",), "msg": "Input should be a valid integer"}]))
    Your answer did not match the required JSON schema:
    - age: Input should be a valid integer
    Reply again with only the corrected JSON object.
    """
    lines = [
        f"- {'.'.join(map(str, e.get('loc', ()))) or '(whole answer)'}: {e.get('msg', e)}"
        for e in errors[:10]
    ]
    return "\n".join(
        [
            "Your answer did not match the required JSON schema:",
            *lines,
            "Reply again with only the corrected JSON object.",
        ]
    )


def structured_flow(
    ask: Ask, messages: list[dict[str, Any]], model: type[BaseModel], max_retries: int
) -> Flow:
    """Ask, validate into `model`, re-ask up to `max_retries` times; the answer gets `.parsed`."""
    transcript = list(messages)
    errors: list[Any] = []
    raw = ""
    for _ in range(max(0, max_retries) + 1):
        response = yield from ask(transcript)
        raw = response.message.content
        if response.done_reason == "length":
            raise TruncatedOutputError(
                f"the {model.__name__} answer was cut at the length limit "
                f"after {response.eval_count} tokens",
                raw=raw,
                hint="raise options num_predict (or num_ctx) so the whole JSON fits",
            )
        try:
            response.parsed = parse_answer(raw, model)
            return response
        except ValidationError as err:
            errors = _jsonable(err.errors(include_url=False))
        answer = {"role": "assistant", "content": raw}
        history: list[Any] = response.messages or [*transcript, answer]
        transcript = [*map(message_dict, history), {"role": "user", "content": reask_text(errors)}]
    raise StructuredOutputError(
        f"the answer never validated as {model.__name__} "
        f"({max(0, max_retries) + 1} attempts): {reask_text(errors).splitlines()[1][2:]}",
        raw=raw,
        errors=errors,
        hint="simplify the schema, give an example in the prompt, or raise max_retries",
    )


def _jsonable(errors: list[Any]) -> list[Any]:
    """Validation errors with only JSON-friendly values (ctx may hold exceptions)."""
    return [
        {k: v for k, v in e.items() if k != "ctx" and _is_json(v)} | {"loc": tuple(e["loc"])}
        for e in errors
    ]


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = ["parse_answer", "reask_text", "schema_for", "strip_fences", "structured_flow"]
