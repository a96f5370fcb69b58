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
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._common.images import images_b64
from ._request_models import (
    ChatRequest,
    CopyRequest,
    CreateRequest,
    EmbeddingsRequest,
    EmbedRequest,
    Format,
    GenerateRequest,
    KeepAlive,
    ModelRequest,
    OptionsDict,
    PullRequest,
    RequestMessage,
    Think,
    WebFetchRequest,
    WebSearchRequest,
)
from .errors import InvalidRequestError

_RESPONSE = ConfigDict(extra="allow", defer_build=True)


# --------------------------------------------------------------------------- shared pieces


class _Response(BaseModel):
    """A tolerant response model that also reads as a dict (`reply["message"]["content"]`,
    `reply.get("thinking")`, `"done_reason" in reply`), as the official client's do, so
    scripts written for `ollama` keep working. Keys are the fields and a newer server's
    extras; methods and properties are not keys."""

    model_config = _RESPONSE

    def __getitem__(self, key: str) -> Any:
        extra = self.__pydantic_extra__ or {}
        if key in type(self).model_fields or key in extra:
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        """Whether the key was sent or holds a value (an unset `None` field is absent)."""
        return isinstance(key, str) and (key in self.model_fields_set or self.get(key) is not None)


class Function(_Response):
    """The function half of a tool call; `arguments` is a JSON object, as Ollama sends it."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    index: int | None = None
    """Position of the call within one response (absent before Ollama v0.12.6)."""


class ToolCall(_Response):
    """One call the model asked for."""

    function: Function
    id: str | None = None
    """`call_<8 chars>` on Ollama ≥ v0.12.10."""


class Image(BaseModel):
    """An image to send, as `ollama.Image`: a file path, a `Path`, raw bytes or base64 text.
    The client sends the file's (or the bytes') base64; a missing file fails before sending."""

    model_config = ConfigDict(defer_build=True)

    value: str | bytes | Path


class Message(_Response):
    """A chat message, sent or received."""

    role: str
    content: str = ""
    thinking: str | None = None
    images: list[str] | None = None
    """Base64 text. Also given as file paths, `Path`s, bytes or `Image`s (ours or `ollama`'s):
    those are read and encoded when the message is made."""
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    """On `tool` messages: which tool produced this result."""
    tool_call_id: str | None = None

    @field_validator("images", mode="before")
    @classmethod
    def _encode_images(cls, images: Any) -> Any:
        return images_b64(images) if isinstance(images, (list, tuple)) else images


class ModelDetails(_Response):
    """`details` in `/api/tags`, `/api/show`, `/api/ps`."""

    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    # Observed on Ollama 0.32 (ollama-api.md §10; §5 does not list them): `/api/tags`
    # details also carry the GGUF's trained context and embedding width.
    context_length: int | None = None
    embedding_length: int | None = None


class TokenLogprob(_Response):
    """One candidate token and its log probability; `bytes` is its raw UTF-8 when sent."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class Logprob(TokenLogprob):
    """A generated token's log probability and, if `top_logprobs=` asked, the alternatives."""

    top_logprobs: list[TokenLogprob] | None = None


class Metrics:
    """Timings (nanoseconds) and token counts of a chat or generate answer; Ollama omits
    zeros, so they default to 0.

    The one definition: the response models (pydantic reads a plain base's annotations), the
    stream chunks (`_fields`) and the chunk validators (`qwenkit.client._chunks`) take these
    fields from here."""

    __slots__ = ()  # a chunk (a dict) must not gain an attribute dict through this base

    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0


# --------------------------------------------------------------------------- responses


class ChatResponse(_Response, Metrics):
    """One `/api/chat` answer; a stream's `final()` merges its `ChatChunk`s into one."""

    model: str = ""
    created_at: str | None = None
    message: Message = Field(default_factory=lambda: Message(role="assistant"))
    done: bool = False
    done_reason: str | None = None
    logprobs: list[Logprob] | None = None
    """One entry per generated token when `logprobs=True` was asked."""
    parsed: Any = Field(default=None, exclude=True)
    """The validated object when `response_model=` was given."""
    messages: list[Message] | None = Field(default=None, exclude=True)
    """The whole transcript (request, answers, tool results) when `run_tools=True`."""


class GenerateResponse(_Response, Metrics):
    """One `/api/generate` answer; a stream's `final()` merges its `GenerateChunk`s into one."""

    model: str = ""
    created_at: str | None = None
    response: str = ""
    thinking: str | None = None
    done: bool = False
    done_reason: str | None = None
    context: list[int] | None = None
    logprobs: list[Logprob] | None = None
    """One entry per generated token when `logprobs=True` was asked."""
    image: str | None = None
    """Base64 image from an image-generation model (Ollama v0.14.3 to v0.32.5)."""
    completed: int | None = None
    """Image generation progress while streaming: steps done of `total`."""
    total: int | None = None


class EmbedResponse(_Response):
    """`/api/embed`: one vector per input."""

    model: str = ""
    embeddings: list[list[float]] = Field(default_factory=list)
    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0


class EmbeddingsResponse(_Response):
    """`/api/embeddings`, the older call: one vector for one prompt."""

    embedding: list[float] = Field(default_factory=list)


class WebSearchResult(_Response):
    title: str | None = None
    url: str | None = None
    content: str | None = None


class WebSearchResponse(_Response):
    """Ollama's hosted web search (`web_search`)."""

    results: list[WebSearchResult] = Field(default_factory=list)


class WebFetchResponse(_Response):
    """A page fetched by Ollama's hosted `web_fetch`: its title, text and links."""

    title: str | None = None
    content: str | None = None
    links: list[str] | None = None


class ListModel(_Response):
    """One local model in `/api/tags`."""

    model: str = ""
    name: str = ""
    size: int = 0
    digest: str = ""
    modified_at: str | None = None
    details: ModelDetails | None = None
    capabilities: list[str] | None = None
    """What the model can do (`completion`, `tools`, ...); listed since Ollama 0.32."""


class ListResponse(_Response):
    models: list[ListModel] = Field(default_factory=list)


class Tensor(_Response):
    """One tensor of the model's GGUF in `/api/show` (GGML shape, innermost first)."""

    name: str = ""
    type: str = ""
    shape: list[int] = Field(default_factory=list)


class ShowResponse(_Response):
    """`/api/show`: Modelfile, parameters, template, GGUF metadata, capabilities.

    `parameters` is one `name value` line per value in no fixed order (read it with
    `qwenkit.setup.verify.parse_show_parameters`). Ollama 0.32 sends `tensors` even without
    `verbose` (§10; §5 of ollama-api.md says only with it); token lists in `model_info` stay null.
    """

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
    tensors: list[Tensor] | None = None

    @property
    def modelinfo(self) -> dict[str, Any]:
        """`model_info` by the `ollama` client's name for it (also `reply["modelinfo"]`)."""
        return self.model_info

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__("model_info" if key == "modelinfo" else key)


class RunningModel(_Response):
    """One loaded model in `/api/ps`; `size_vram < size` means partial CPU offload."""

    name: str = ""
    model: str = ""
    size: int = 0
    size_vram: int = 0
    context_length: int | None = None
    """The `num_ctx` actually in use (Ollama ≥ v0.10.0), after clamping."""
    expires_at: str | None = None
    digest: str = ""
    details: ModelDetails | None = None


class ProcessResponse(_Response):
    models: list[RunningModel] = Field(default_factory=list)


class ProgressResponse(_Response):
    """One progress line of `pull`/`create`; `completed` is 0 (not missing) once `total` is set."""

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


class StatusResponse(_Response):
    """`delete`/`copy` answer with an empty body; `status` is "success" as in `ollama`."""

    status: str | None = None


# --------------------------------------------------------------------------- stream chunks


class _Chunk(dict[str, Any]):
    """A streamed line: the checked JSON object itself, readable by key (as `ollama`'s
    responses are) and by the response model's attribute names.

    Why not the response models: a stream makes one per token, and a pydantic model costs
    about twice the `json.loads` the speed goal is measured against and keeps more objects
    alive for the garbage collector (see `qwenkit.client._chunks`). A dict is what `json.loads`
    makes anyway. The stream's `final()` returns the full response model.

    `__slots__ = ()` here and in every subclass: a chunk has no attribute dict of its own
    (smaller objects, quicker to make, and `chunk.x = 1` cannot hide the line's key)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:  # only reached for fields a newer server added
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!r} has no field {name!r}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


C = TypeVar("C", bound=type)


def _fields(cls: C) -> C:
    """Make each annotated field of a chunk class a read-only property that reads the line's
    key, or the annotated default when Ollama left it out (`omitempty`).

    The annotations stay what type checkers see. The getter `methodcaller("get", name,
    default)` is `lambda line: line.get(name, default)` written as a C callable, so reading
    `chunk.done` once per token costs no Python frame."""
    names = [*inspect.get_annotations(cls)]
    if Metrics in cls.__bases__:
        names += inspect.get_annotations(Metrics)
    for name in names:
        getter = methodcaller("get", name, getattr(cls, name))
        setattr(cls, name, property(getter, doc=f"`{name}` of the line"))
    return cls


@_fields
class ChunkMessage(_Chunk):
    """The `message` of a chat chunk, with `Message`'s attribute names."""

    __slots__ = ()

    role: str = "assistant"
    content: str = ""
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None


@_fields
class _ChunkMetrics(_Chunk, Metrics):
    __slots__ = ()

    model: str = ""
    created_at: str | None = None
    done: bool = False
    done_reason: str | None = None


@_fields
class ChatChunk(_ChunkMetrics):
    """One line of a streamed chat, with `ChatResponse`'s attribute names (`.message.content`,
    `.done`, `.eval_count`, ...); the stream's `final()` merges them into a `ChatResponse`."""

    __slots__ = ()

    logprobs: list[Logprob] | None = None

    @property
    def message(self) -> ChunkMessage:
        """The line's message (an empty one if Ollama sent none: see `qwenkit.client._chunks`)."""
        message: ChunkMessage = self["message"]
        return message


@_fields
class GenerateChunk(_ChunkMetrics):
    """One line of a streamed `/api/generate`, with `GenerateResponse`'s attribute names."""

    __slots__ = ()

    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None
    logprobs: list[Logprob] | None = None
    image: str | None = None
    completed: int | None = None
    total: int | None = None


__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "ChunkMessage",
    "CopyRequest",
    "CreateRequest",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "Format",
    "Function",
    "GenerateChunk",
    "GenerateRequest",
    "GenerateResponse",
    "Image",
    "InvalidRequestError",
    "KeepAlive",
    "ListModel",
    "ListResponse",
    "Logprob",
    "Message",
    "Metrics",
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
    "Tensor",
    "Think",
    "TokenLogprob",
    "ToolCall",
    "WebFetchRequest",
    "WebFetchResponse",
    "WebSearchRequest",
    "WebSearchResponse",
    "WebSearchResult",
]
