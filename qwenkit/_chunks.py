"""Validation of streamed lines into `ChatChunk`/`GenerateChunk`, at the cost of `json.loads`.

A stream makes one object per token, so the per-line price matters: validating into a
`BaseModel` costs about twice a bare `json.loads`. Here pydantic-core checks each line against a
`TypedDict` (same field types as the response models, unknown keys kept) and hands the checked
dict to the chunk class as its instance dict, so a chunk costs no Python code per field.
The validators are built on first use: importing this module does no pydantic work.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, ConfigDict, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from .types import ChatChunk, GenerateChunk, ToolCall

C = TypeVar("C")

#: Keep unknown keys (a newer server's fields); cache only keys, tokens rarely repeat.
_CONFIG = ConfigDict(extra="allow", cache_strings="keys")


def _wrap(cls: type[C]) -> Callable[[dict[str, Any]], C]:
    new = object.__new__

    def wrap(fields: dict[str, Any]) -> C:
        chunk = new(cls)
        chunk.__dict__ = fields
        return chunk

    return wrap


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
    message: NotRequired[_MessageFields]  # stays a dict: `ChatChunk.message` is a view of it


@with_config(_CONFIG)
class _GenerateFields(_MetricFields):
    response: NotRequired[str]
    thinking: NotRequired[str | None]
    context: NotRequired[list[int] | None]


@cache
def chat_chunk() -> Callable[[bytes], ChatChunk]:
    """`validate(line) -> ChatChunk`; raises pydantic's `ValidationError` on a bad line."""
    adapter: TypeAdapter[ChatChunk] = TypeAdapter(
        Annotated[_ChatFields, AfterValidator(_wrap(ChatChunk))]
    )
    return adapter.validate_json


@cache
def generate_chunk() -> Callable[[bytes], GenerateChunk]:
    """`validate(line) -> GenerateChunk`."""
    adapter: TypeAdapter[GenerateChunk] = TypeAdapter(
        Annotated[_GenerateFields, AfterValidator(_wrap(GenerateChunk))]
    )
    return adapter.validate_json
