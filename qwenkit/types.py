"""Wire models for Ollama's native `/api/*` endpoints.

Responses are tolerant (`extra="allow"`): a newer server adding fields must not break a script,
and Ollama's `omitempty` metrics default to 0 instead of `None`. Attribute names mirror the
official `ollama` client so code written for it keeps working. Streamed lines become the lighter
`ChatChunk`/`GenerateChunk`. Requests (defined in `qwenkit._request_models`, re-exported here)
are strict (`extra="forbid"`): a typo fails before anything is sent.

Every model is built lazily (`defer_build=True`) to keep `import qwenkit` cheap.
"""

from __future__ import annotations

import inspect
from operator import methodcaller
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._request_models import (
    ChatRequest,
    CopyRequest,
    CreateRequest,
    EmbedRequest,
    Format,
    GenerateRequest,
    KeepAlive,
    ModelRequest,
    OptionsDict,
    PullRequest,
    RequestMessage,
    Think,
)
from .errors import QwenkitError

_RESPONSE = ConfigDict(extra="allow", defer_build=True)


class InvalidRequestError(QwenkitError, ValueError):
    """A request qwenkit refuses to send: unknown option, wrong type, malformed message."""


# --------------------------------------------------------------------------- shared pieces


class Function(BaseModel):
    """The function half of a tool call; `arguments` is a JSON object, as Ollama sends it."""

    model_config = _RESPONSE

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    index: int | None = None
    """Position of the call within one response (absent before Ollama v0.12.6)."""


class ToolCall(BaseModel):
    """One call the model asked for."""

    model_config = _RESPONSE

    function: Function
    id: str | None = None
    """`call_<8 chars>` on Ollama ≥ v0.12.10."""


class Message(BaseModel):
    """A chat message, sent or received."""

    model_config = _RESPONSE

    role: str
    content: str = ""
    thinking: str | None = None
    images: list[str] | None = None
    """Base64-encoded images."""
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    """On `tool` messages: which tool produced this result."""
    tool_call_id: str | None = None


class ModelDetails(BaseModel):
    """`details` in `/api/tags`, `/api/show`, `/api/ps`."""

    model_config = _RESPONSE

    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None


class _Metrics(BaseModel):
    """Timings (nanoseconds) and token counts; Ollama omits zeros, so they default to 0."""

    model_config = _RESPONSE

    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0


# --------------------------------------------------------------------------- responses


class ChatResponse(_Metrics):
    """One `/api/chat` answer, or one chunk of a streamed answer."""

    model: str = ""
    created_at: str | None = None
    message: Message = Field(default_factory=lambda: Message(role="assistant"))
    done: bool = False
    done_reason: str | None = None
    parsed: Any = Field(default=None, exclude=True)
    """The validated object when `response_model=` was given."""
    messages: list[Message] | None = Field(default=None, exclude=True)
    """The whole transcript (request, answers, tool results) when `run_tools=True`."""


class GenerateResponse(_Metrics):
    """One `/api/generate` answer or chunk."""

    model: str = ""
    created_at: str | None = None
    response: str = ""
    thinking: str | None = None
    done: bool = False
    done_reason: str | None = None
    context: list[int] | None = None


class EmbedResponse(BaseModel):
    """`/api/embed`: one vector per input."""

    model_config = _RESPONSE

    model: str = ""
    embeddings: list[list[float]] = Field(default_factory=list)
    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0


class ListModel(BaseModel):
    """One local model in `/api/tags`."""

    model_config = _RESPONSE

    model: str = ""
    name: str = ""
    size: int = 0
    digest: str = ""
    modified_at: str | None = None
    details: ModelDetails | None = None


class ListResponse(BaseModel):
    model_config = _RESPONSE

    models: list[ListModel] = Field(default_factory=list)


class ShowResponse(BaseModel):
    """`/api/show`: Modelfile, parameters, template, GGUF metadata, capabilities."""

    model_config = _RESPONSE

    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    license: str | None = None
    details: ModelDetails | None = None
    model_info: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    modified_at: str | None = None


class RunningModel(BaseModel):
    """One loaded model in `/api/ps`; `size_vram < size` means partial CPU offload."""

    model_config = _RESPONSE

    name: str = ""
    model: str = ""
    size: int = 0
    size_vram: int = 0
    context_length: int | None = None
    """The `num_ctx` actually in use (Ollama ≥ v0.10.0), after clamping."""
    expires_at: str | None = None
    digest: str = ""
    details: ModelDetails | None = None


class ProcessResponse(BaseModel):
    model_config = _RESPONSE

    models: list[RunningModel] = Field(default_factory=list)


class ProgressResponse(BaseModel):
    """One progress line of `pull`/`create`; `completed` is 0 (not missing) once `total` is set."""

    model_config = _RESPONSE

    status: str = ""
    digest: str | None = None
    total: int | None = None
    completed: int | None = None

    @model_validator(mode="after")
    def _zero_completed(self) -> ProgressResponse:
        if self.total is not None and self.completed is None:
            self.completed = 0
        return self

    @property
    def done(self) -> bool:
        """The last line of a pull/create stream says `success`."""
        return self.status == "success"


class StatusResponse(BaseModel):
    """`delete`/`copy` answer with an empty body; `status` is "success" as in `ollama`."""

    model_config = _RESPONSE

    status: str | None = None


# --------------------------------------------------------------------------- stream chunks


class _Chunk(dict[str, Any]):
    """A streamed line: the checked JSON object itself, read with the response model's
    attribute names (or as a dict, as `ollama`'s responses allow). Not a pydantic model: a
    stream makes one per token, and a plain dict is the least work for the garbage collector
    (see `qwenkit._chunks`); the stream's `final()` returns the full response model."""

    def __getattr__(self, name: str) -> Any:  # fields a newer server added
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!r} has no field {name!r}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


C = TypeVar("C", bound=type)


def _fields(cls: C) -> C:
    """Turn the annotated defaults of a chunk class into properties that read the line,
    falling back to the default (Ollama's `omitempty`). The getters are C functions
    (`dict.get` via `methodcaller`): reading `chunk.done` runs no Python code."""
    for name in inspect.get_annotations(cls):
        getter = methodcaller("get", name, getattr(cls, name))
        setattr(cls, name, property(getter, doc=f"`{name}` of the line"))
    return cls


class ChunkMessage:
    """The `message` of a chat chunk, with `Message`'s attribute names: a view of the line's
    message fields (the instance dict), absent ones falling back to the class defaults."""

    role: str = "assistant"
    content: str = ""
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None

    def __repr__(self) -> str:
        return f"ChunkMessage({vars(self)!r})"


@_fields
class _ChunkMetrics(_Chunk):
    model: str = ""
    created_at: str | None = None
    done: bool = False
    done_reason: str | None = None
    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0


class ChatChunk(_ChunkMetrics):
    """One line of a streamed chat, with `ChatResponse`'s attribute names (`.message.content`,
    `.done`, `.eval_count`, ...); the stream's `final()` merges them into a `ChatResponse`."""

    @property
    def message(self) -> ChunkMessage:
        """A view of the line's message, made when asked for (a stream keeps no extra object
        per token)."""
        view = object.__new__(ChunkMessage)
        view.__dict__ = self.setdefault("message", {})
        return view


@_fields
class GenerateChunk(_ChunkMetrics):
    """One line of a streamed `/api/generate`, with `GenerateResponse`'s attribute names."""

    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None


__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "ChunkMessage",
    "CopyRequest",
    "CreateRequest",
    "EmbedRequest",
    "EmbedResponse",
    "Format",
    "Function",
    "GenerateChunk",
    "GenerateRequest",
    "GenerateResponse",
    "InvalidRequestError",
    "KeepAlive",
    "ListModel",
    "ListResponse",
    "Message",
    "ModelDetails",
    "ModelRequest",
    "OptionsDict",
    "ProcessResponse",
    "ProgressResponse",
    "PullRequest",
    "RequestMessage",
    "RunningModel",
    "ShowResponse",
    "StatusResponse",
    "Think",
    "ToolCall",
]
