"""Request models for Ollama's native `/api/*` endpoints, as sent (public via `qwenkit.types`).

Strict (`extra="forbid"`): a typo fails here, before anything is sent. Messages and options
are checked as `TypedDict`s rather than models: a conversation is sent again on every turn,
and a checked dict is all the body needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import NotRequired, TypedDict

from .options import Options

_REQUEST = ConfigDict(extra="forbid", defer_build=True)

Think = bool | Literal["low", "medium", "high", "max"]
KeepAlive = float | str
Format = Literal["", "json"] | dict[str, Any]
TopLogprobs = Annotated[int, Field(ge=0, le=20)]
"""Alternatives per position; Ollama answers 400 outside 0-20."""


def _options_dict() -> Any:
    """`Options` as a TypedDict: the same names, types and strictness, checked inside each
    request without building an `Options` object per call."""
    fields = {name: NotRequired[info.annotation] for name, info in Options.model_fields.items()}
    make: Any = TypedDict  # the functional form, with fields known only at run time
    checked = make("OptionsDict", fields)
    checked.__pydantic_config__ = ConfigDict(extra="forbid", strict=True)
    return checked


if TYPE_CHECKING:
    OptionsDict = dict[str, Any]
else:
    OptionsDict = _options_dict()


@with_config(ConfigDict(extra="forbid"))
class RequestMessage(TypedDict):
    """A message as sent: unknown keys are typos, so they fail. A checked dict, not a model:
    a long conversation is sent again on every turn."""

    role: Annotated[str, Field(min_length=1)]
    content: NotRequired[str | None]
    thinking: NotRequired[str | None]
    images: NotRequired[list[str] | None]
    tool_calls: NotRequired[list[dict[str, Any]] | None]
    tool_name: NotRequired[str | None]
    tool_call_id: NotRequired[str | None]


class ChatRequest(BaseModel):
    model_config = _REQUEST

    model: str = Field(min_length=1)
    messages: list[RequestMessage]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    """Sent even when empty, as the `ollama` client does (Ollama treats `[]` as none)."""
    format: Format | None = None
    options: OptionsDict | None = None
    stream: bool = False
    keep_alive: KeepAlive | None = None
    think: Think | None = None
    logprobs: bool | None = None
    top_logprobs: TopLogprobs | None = None


class GenerateRequest(BaseModel):
    model_config = _REQUEST

    model: str = Field(min_length=1)
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    format: Format | None = None
    images: list[str] | None = None
    options: OptionsDict | None = None
    stream: bool = False
    keep_alive: KeepAlive | None = None
    think: Think | None = None
    logprobs: bool | None = None
    top_logprobs: TopLogprobs | None = None
    width: int | None = None
    """Image generation (Ollama v0.14.3 to v0.32.5, experimental; later servers ignore it)."""
    height: int | None = None
    steps: int | None = None


class EmbedRequest(BaseModel):
    model_config = _REQUEST

    model: str = Field(min_length=1)
    input: str | list[str]
    truncate: bool | None = None
    dimensions: int | None = None
    options: OptionsDict | None = None
    keep_alive: KeepAlive | None = None


class EmbeddingsRequest(BaseModel):
    """The older `/api/embeddings` (one prompt, one vector), kept by Ollama and `ollama`."""

    model_config = _REQUEST

    model: str = Field(min_length=1)
    prompt: str | None = None
    options: OptionsDict | None = None
    keep_alive: KeepAlive | None = None


class PullRequest(BaseModel):
    """Body of `pull` and `push`."""

    model_config = _REQUEST

    model: str = Field(min_length=1)
    insecure: bool = False
    stream: bool = False


class CreateRequest(BaseModel):
    """`/api/create` body; `from_` goes on the wire as `from`."""

    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)

    model: str = Field(min_length=1)
    from_: str | None = Field(default=None, alias="from")
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: dict[str, Any] | None = None
    """Stored as given, as Ollama does: it accepts and keeps names it does not know."""
    messages: list[RequestMessage] | None = None
    quantize: str | None = None
    stream: bool = False


class ModelRequest(BaseModel):
    """Body of `show` and `delete`."""

    model_config = _REQUEST

    model: str = Field(min_length=1)


class CopyRequest(BaseModel):
    model_config = _REQUEST

    source: str = Field(min_length=1)
    destination: str = Field(min_length=1)


class WebSearchRequest(BaseModel):
    """Ollama's hosted web search (ollama.com, bearer auth)."""

    model_config = _REQUEST

    query: str = Field(min_length=1)
    max_results: int | None = None


class WebFetchRequest(BaseModel):
    model_config = _REQUEST

    url: str = Field(min_length=1)
