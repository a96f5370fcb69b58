"""Validation of streamed lines into `ChatChunk`/`GenerateChunk`, at the cost of `json.loads`.

A stream makes one object per token, so the per-line price matters: validating into a
`BaseModel` costs about twice a bare `json.loads` (the speed goal's yardstick), and each extra
object a kept chunk holds is more work for the garbage collector. So pydantic-core checks each
line against a `TypedDict` (the response models' field types, unknown keys kept) and hands the
checked dicts to the chunk classes, which are `dict` subclasses: a chat line becomes the same
two objects `json.loads` makes (line and message). No Python function runs per line inside
validation: the classes themselves are the validators, and the `error` key's validator runs
only on an error line.
The validators are built on first use: importing this module does no pydantic work."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, NoReturn, cast, get_type_hints

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from ..types import (
    ChatChunk,
    ChunkMessage,
    GenerateChunk,
    Logprob,
    Metrics,
    ProgressResponse,
    ToolCall,
)
from ._transport import ErrorLine

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


def _error_line(message: object) -> NoReturn:
    """Ollama's `{"error": ...}` line inside a 200 stream; `line_error` makes it a
    `ResponseError`."""
    raise ErrorLine(message)


def _line_fields(name: str, **fields: Any) -> Any:
    """A streamed line's TypedDict: the error check, the common keys, `types.Metrics`'
    fields (from their one definition), then `fields`. Functional form: the keys are known
    only at run time, which only pydantic, not a type checker, needs to see."""
    keys: dict[str, Any] = {
        "error": NotRequired[Annotated[object, AfterValidator(_error_line)]],
        "model": NotRequired[str],
        "created_at": NotRequired[str | None],
        "done": NotRequired[bool],
        "done_reason": NotRequired[str | None],
    }
    keys |= {key: NotRequired[hint] for key, hint in get_type_hints(Metrics).items()}
    make: Any = TypedDict
    checked = make(name, {**keys, **fields})
    checked.__pydantic_config__ = _CONFIG
    return checked


# every chat line gets its own `ChunkMessage`, an empty one if Ollama sent none
_ChatFields = _line_fields(
    "_ChatFields",
    message=NotRequired[
        Annotated[_MessageFields, AfterValidator(ChunkMessage), Field(default_factory=ChunkMessage)]
    ],
    logprobs=NotRequired[list[Logprob] | None],
)
_GenerateFields = _line_fields(
    "_GenerateFields",
    response=NotRequired[str],
    thinking=NotRequired[str | None],
    context=NotRequired[list[int] | None],
    logprobs=NotRequired[list[Logprob] | None],
    image=NotRequired[str | None],
    completed=NotRequired[int | None],
    total=NotRequired[int | None],
)


@cache
def chat_chunk() -> Callable[[bytes], ChatChunk]:
    """`validate(line) -> ChatChunk`; a bad line raises pydantic's `ValidationError`, an
    `{"error": ...}` line `ErrorLine`."""
    # Typed as Any: the TypedDict validates, the AfterValidator turns it into the chunk class,
    # and pydantic's stubs (which differ between 2.13 and 2.14) cannot express that.
    line_type: Any = Annotated[_ChatFields, AfterValidator(ChatChunk)]
    adapter: TypeAdapter[Any] = TypeAdapter(line_type)
    return cast("Callable[[bytes], ChatChunk]", adapter.validate_json)


@cache
def generate_chunk() -> Callable[[bytes], GenerateChunk]:
    """`validate(line) -> GenerateChunk`, as `chat_chunk`."""
    line_type: Any = Annotated[_GenerateFields, AfterValidator(GenerateChunk)]
    adapter: TypeAdapter[Any] = TypeAdapter(line_type)
    return cast("Callable[[bytes], GenerateChunk]", adapter.validate_json)


def progress(line: bytes) -> ProgressResponse:
    """`validate(line) -> ProgressResponse` for pull/create streams (a few lines a second:
    the response model itself)."""
    checked = ProgressResponse.model_validate_json(line)
    extra = checked.model_extra
    if extra and "error" in extra:
        raise ErrorLine(extra["error"])
    return checked
