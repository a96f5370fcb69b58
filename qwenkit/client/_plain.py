"""The quick path of the commonest call: a chat of text messages with at most `options=`.

The checked path (`plan_chat`) validates every request through `ChatRequest` and encodes
the model: with its glue about 70,000 instructions, more than half of qwenkit's own work in
such a call (counted under callgrind, as `benchmarks/bench_import_instructions.py --calls`
counts). For a plain chat the checks `ChatRequest` makes are a few type tests, and options
the caller already sent once need no second check, so `plain_chat` encodes the caller's
dicts directly (`pydantic_core.to_json`, half the instructions of `json.dumps`) and leaves
everything else to the checked path. The JSON sent is the same either way; only the order
of option names and the spelling of a whole-number float (`1` for `1.0`) may differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from ..types import ChatResponse
from ._requests import Call, _finished_chat

#: The keys of a plain message: a role and its text (see `RequestMessage`).
_PLAIN_KEYS = frozenset({"role", "content"})
_REMEMBERED = 256

#: Options dicts that passed `ChatRequest`'s check, as frozensets of (name, type, value);
#: the type is part of it because `True == 1` and a bool is no number to `Options`.
_checked_options: set[frozenset[tuple[str, type, Any]]] = set()


def _key(options: Mapping[str, Any]) -> frozenset[tuple[str, type, Any]] | None:
    values = options.values()
    try:
        return frozenset(zip(options, map(type, values), values, strict=True))
    except TypeError:  # an unhashable value (a `stop` list): checked on every call
        return None


def remember_options(options: object) -> None:
    """Note a caller's options dict that `ChatRequest` accepted (one with a `None`, which
    the checked path leaves out, is not noted: the quick path would send it as `null`)."""
    if type(options) is not dict or (key := _key(options)) is None:
        return
    if all(value is not None for value in options.values()):
        if len(_checked_options) >= _REMEMBERED:
            _checked_options.clear()
        _checked_options.add(key)


def _plain_messages(messages: object) -> bool:
    """Dicts of a non-empty `role` and an optional `content`, both plain `str`."""
    if type(messages) is not list and type(messages) is not tuple:
        return messages is None
    for message in messages:
        if type(message) is not dict or not message.keys() <= _PLAIN_KEYS:
            return False
        role, content = message.get("role"), message.get("content", "")
        if type(role) is not str or not role or type(content) is not str:
            return False
    return True


def plain_chat(
    model: object, messages: Sequence[Any] | None, stream: object, kw: Mapping[str, Any]
) -> Call[ChatResponse] | None:
    """The `/api/chat` call for a plain chat, or None when the checked path must build it."""
    if kw and kw.keys() != {"options"}:
        return None
    if type(model) is not str or not model or type(stream) is not bool:
        return None
    options = kw.get("options")
    if options is not None and (type(options) is not dict or _key(options) not in _checked_options):
        return None
    if not _plain_messages(messages):
        return None
    body: dict[str, Any] = {"model": model, "messages": messages or [], "tools": []}
    if options is not None:
        body["options"] = options
    body["stream"] = stream
    try:
        data = to_json(body)
    except PydanticSerializationError:  # a lone surrogate: the checked path says what is wrong
        return None
    return Call("POST", "/api/chat", _finished_chat, data, model)
