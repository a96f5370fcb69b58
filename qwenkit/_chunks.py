"""Validation of streamed lines into `ChatChunk`/`GenerateChunk`, at the cost of `json.loads`.

A stream makes one object per token, so the per-line price matters twice: validating into a
`BaseModel` costs about twice a bare `json.loads`, and every object a chunk keeps alive counts
towards the garbage collector's next pass (a 200-token answer kept in a list triggers
collections a plain `json.loads` loop does not). So pydantic-core checks each line against a
`TypedDict` (the response models' field types, unknown keys kept) and the checked dicts become
the chunk and its message, `dict` subclasses: two objects per chat line, as with `json.loads`
(the copies into the subclasses free the checked dicts at once, which leaves the collector's
count as it was).
The validators are built on first use: importing this module does no pydantic work."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from ._transport import ErrorLine
from .types import ChatChunk, ChunkMessage, GenerateChunk, ProgressResponse, ToolCall

#: Keep unknown keys (a newer server's fields); cache only keys, tokens rarely repeat.
_CONFIG = ConfigDict(extra="allow", cache_strings="keys")


@with_config(_CONFIG)
class _MessageFields(TypedDict):
    role: NotRequired[str]
    content: NotRequired[str]
    thinking: NotRequired[str | None]
    images: NotRequired[list[str] | None]
    tool_calls: NotRequired[list[ToolCall] | None]
    tool_name: NotRequired[str | None]
    tool_call_id: NotRequired[str | None]


@with_config(_CONFIG)
class _MetricFields(TypedDict):
    model: NotRequired[str]
    created_at: NotRequired[str | None]
    done: NotRequired[bool]
    done_reason: NotRequired[str | None]
    total_duration: NotRequired[int]
    load_duration: NotRequired[int]
    prompt_eval_count: NotRequired[int]
    prompt_eval_duration: NotRequired[int]
    eval_count: NotRequired[int]
    eval_duration: NotRequired[int]


@with_config(_CONFIG)
class _ChatFields(_MetricFields):
    message: NotRequired[_MessageFields]


@with_config(_CONFIG)
class _GenerateFields(_MetricFields):
    response: NotRequired[str]
    thinking: NotRequired[str | None]
    context: NotRequired[list[int] | None]


def _chat(fields: dict[str, Any]) -> ChatChunk:
    if "error" in fields:  # a dict lookup here is cheaper than searching every line's bytes
        raise ErrorLine(fields["error"])
    fields["message"] = ChunkMessage(fields.get("message", ()))
    return ChatChunk(fields)


def _generate(fields: dict[str, Any]) -> GenerateChunk:
    if "error" in fields:
        raise ErrorLine(fields["error"])
    return GenerateChunk(fields)


@cache
def chat_chunk() -> Callable[[bytes], ChatChunk]:
    """`validate(line) -> ChatChunk`; a bad line raises pydantic's `ValidationError`, an
    `{"error": ...}` line `ErrorLine`."""
    adapter: TypeAdapter[ChatChunk] = TypeAdapter(Annotated[_ChatFields, AfterValidator(_chat)])
    return adapter.validate_json


@cache
def generate_chunk() -> Callable[[bytes], GenerateChunk]:
    """`validate(line) -> GenerateChunk`, as `chat_chunk`."""
    adapter: TypeAdapter[GenerateChunk] = TypeAdapter(
        Annotated[_GenerateFields, AfterValidator(_generate)]
    )
    return adapter.validate_json


def progress(line: bytes) -> ProgressResponse:
    """`validate(line) -> ProgressResponse` for pull/create streams (a few lines a second:
    the response model itself)."""
    checked = ProgressResponse.model_validate_json(line)
    extra = checked.model_extra
    if extra and "error" in extra:
        raise ErrorLine(extra["error"])
    return checked
