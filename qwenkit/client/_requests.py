"""Every endpoint's request and answer as data: what `Client` and `AsyncClient` share.

Each builder checks its arguments (a bad one raises `InvalidRequestError` before anything is
sent) and returns a `Call`: method, path, JSON body, the model a 404 is about, and how to read
the answer. The clients only send a `Call` and hand the bytes back, so the two twins differ in
`await` alone, and nothing in this module does network I/O.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from .._common.images import images_b64
from .._common.params import RETIRED_OPTIONS
from ..errors import IncompleteAnswerError, ProtocolError
from ..options import Options
from ..types import (
    ChatRequest,
    ChatResponse,
    CopyRequest,
    CreateRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    Format,
    GenerateRequest,
    GenerateResponse,
    InvalidRequestError,
    KeepAlive,
    ListResponse,
    Message,
    ModelRequest,
    ProcessResponse,
    ProgressResponse,
    PullRequest,
    RequestMessage,
    ShowResponse,
    StatusResponse,
    Think,
    WebFetchRequest,
    WebFetchResponse,
    WebSearchRequest,
    WebSearchResponse,
)
from ._transport import parse_body, validator

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
MessageLike = Mapping[str, Any] | BaseModel
OptionsLike = Mapping[str, Any] | BaseModel
ImageLike = Any
"""A file path (`str` or `os.PathLike`), bytes, base64 text, or an `Image` (ours or ollama's)."""

#: Ollama's hosted web API (`web_search`, `web_fetch`), called with the client's bearer key
WEB_API = "https://ollama.com/api"


class GenerateKwargs(TypedDict, total=False):
    """The keyword arguments of `generate` besides `stream` (for the typed overloads)."""

    suffix: str | None
    system: str | None
    template: str | None
    context: Sequence[int] | None
    raw: bool | None
    format: Any
    images: Sequence[ImageLike] | None
    options: OptionsLike | None
    keep_alive: KeepAlive | None
    think: Think | None
    logprobs: bool | None
    top_logprobs: int | None
    width: int | None
    height: int | None
    steps: int | None


class CreateKwargs(TypedDict, total=False):
    """The keyword arguments of `create` besides `stream`, as in `ollama.Client.create`."""

    from_: str | None
    files: Mapping[str, str] | None
    adapters: Mapping[str, str] | None
    template: str | None
    license: str | Sequence[str] | None
    system: str | None
    parameters: Mapping[str, Any] | BaseModel | None
    messages: Sequence[MessageLike] | None
    quantize: str | None


# --------------------------------------------------------------------------- checking input


def encode(request: BaseModel) -> bytes:
    """The JSON body: `None` fields dropped, aliases (`from`) applied."""
    try:
        return request.__pydantic_serializer__.to_json(request, exclude_none=True, by_alias=True)
    except PydanticSerializationError as err:  # text no JSON can carry: a lone surrogate
        raise InvalidRequestError(
            f"cannot send this {type(request).__name__} as JSON: {err}",
            hint="text must be valid Unicode (no lone surrogates such as '\\ud800')",
        ) from None


def build(cls: type[M], **fields: Any) -> M:
    """Validate a request model from keyword arguments; `None` means "not sent"."""
    return check(cls, {k: v for k, v in fields.items() if v is not None})


def check(cls: type[M], data: dict[str, Any]) -> M:
    """Validate a request model (options included, in the same pass) or raise a clear error."""
    try:
        checked: M = validator(cls).validate_python(data)
        return checked
    except ValidationError as err:
        where = err.errors(include_url=False)[0]["loc"][:1]
        if where in (("options",), ("parameters",)):
            check_options(data[str(where[0])])  # says which option, and what was meant
        raise InvalidRequestError(
            f"invalid {cls.__name__}: {_first_error(err)}", hint="check the argument named above"
        ) from None


def as_dict(value: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """A dict from a mapping or a pydantic model (ours or `ollama`'s), `None`s dropped."""
    if type(value) is dict:  # the common case, before the slower class checks
        return dict(value)
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True, by_alias=True)
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidRequestError(f"expected a mapping or a pydantic model, got {type(value).__name__}")


def as_messages(messages: Sequence[MessageLike] | None) -> list[dict[str, Any]]:
    """Messages as plain dicts; accepts dicts, `qwenkit.types.Message` and `ollama.Message`,
    with images in any form `qwenkit._common.images` takes, sent as base64."""
    return [as_message(m) for m in messages or ()]


def as_message(message: MessageLike) -> dict[str, Any]:
    if type(message) is dict:  # the common case, before the slower class checks
        data = dict(message)
    elif isinstance(message, BaseModel):  # images as given, not as the model would dump them
        data = message.model_dump(exclude_none=True, by_alias=True, exclude={"images"})
        if images := getattr(message, "images", None):
            data["images"] = images
    else:
        data = as_dict(message)
    if images := data.get("images"):
        data["images"] = images_b64(images)
    return data


def message_dict(message: Message | Mapping[str, Any]) -> dict[str, Any]:
    """A received message in the shape a request accepts (server-side extras dropped)."""
    if isinstance(message, Message):
        fields = set(RequestMessage.__annotations__)
        return message.model_dump(exclude_none=True, include=fields)
    return dict(message)


def as_options(options: OptionsLike | None) -> dict[str, Any] | None:
    """Options as a dict for a request model, which checks them against `Options`."""
    return None if options is None else as_dict(options)


def check_options(options: OptionsLike) -> None:
    """Raise the clearest error for bad options: the unknown name and its likely fix, or the type.

    >>> check_options({"num_ctx": 8192})
    >>> check_options({"num_ctxx": 8192})
    Traceback (most recent call last):
    ...
    qwenkit.errors.InvalidRequestError: unknown option 'num_ctxx' (did you mean 'num_ctx'?)
    """
    raw = as_dict(options)
    for name in raw:
        if name in RETIRED_OPTIONS:  # e.g. from an `ollama.Options(mirostat=1)`
            raise InvalidRequestError(
                f"option {name!r} is no longer used by Ollama (the server would ignore it)",
                hint="remove it; the options Ollama reads are in qwenkit.options.PARAMETER_KINDS",
            )
        if name not in Options.model_fields:
            close = difflib.get_close_matches(name, list(Options.model_fields), n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidRequestError(
                f"unknown option {name!r}{guess}",
                hint="valid names are in qwenkit.options.PARAMETER_KINDS",
            )
    try:
        Options.model_validate(raw)
    except ValidationError as err:
        raise InvalidRequestError(
            f"invalid option: {_first_error(err)}", hint="Ollama rejects wrongly typed options"
        ) from None


def schema_for(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema Ollama constrains decoding with (`format=`)."""
    return model.model_json_schema()


def as_format(fmt: Any) -> Format | None:
    """`"json"`, a JSON-schema dict, or a pydantic model class (turned into its schema)."""
    if isinstance(fmt, type) and issubclass(fmt, BaseModel):
        return schema_for(fmt)
    if fmt is None or fmt in ("", "json"):
        return fmt  # type: ignore[no-any-return]
    if isinstance(fmt, Mapping):
        return dict(fmt)
    raise InvalidRequestError('format must be "json", a JSON schema dict or a pydantic model')


def as_keep_alive(value: KeepAlive | None) -> KeepAlive | None:
    """A bare numeric string is a 400 on the server (`time: missing unit`); send a number.

    >>> as_keep_alive("300"), as_keep_alive("5m"), as_keep_alive(-1)
    (300.0, '5m', -1)
    """
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _first_error(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "value"
    return f"{where}: {first['msg']}"


# --------------------------------------------------------------------------- calls


@dataclass(slots=True)
class Call(Generic[T]):
    """One HTTP exchange, described: the clients send it and give `read` the answer's bytes."""

    method: str
    path: str
    read: Callable[[bytes, str], T]
    body: bytes | None = None
    model: str | None = None
    """The model a 404 is about (`ModelNotFoundError`); `None` when a 404 means no Ollama."""


@cache
def _model(cls: type[M]) -> Callable[[bytes, str], M]:
    return lambda body, host: parse_body(cls, body, host)


def _finished_chat(body: bytes, host: str) -> ChatResponse:
    """A non-streamed chat answer; `done: false` means the runner gave up (see
    `IncompleteAnswerError`), the same failure a stream reports by ending early."""
    answer = parse_body(ChatResponse, body, host)
    if _cut(answer):
        raise IncompleteAnswerError(host, partial=answer.message.content)
    return answer


def _finished_generate(body: bytes, host: str) -> GenerateResponse:
    answer = parse_body(GenerateResponse, body, host)
    if _cut(answer):
        raise IncompleteAnswerError(host, partial=answer.response)
    return answer


def _cut(answer: ChatResponse | GenerateResponse) -> bool:
    """Ollama marks a cut answer with an explicit `"done": false`. A body without `done` at
    all (no Ollama sends one; the `ollama` client's own test server does) is taken whole,
    as that client takes it."""
    return not answer.done and "done" in answer.model_fields_set


def _success(body: bytes, host: str) -> StatusResponse:
    return StatusResponse(status="success")


def _version(body: bytes, host: str) -> str:
    try:
        return str(json.loads(body)["version"])
    except (ValueError, KeyError, TypeError):
        raise ProtocolError(f"{host} did not answer /api/version like Ollama", host=host) from None


def _post(path: str, request: BaseModel, cls: type[M], model: str | None) -> Call[M]:
    return Call("POST", path, _model(cls), encode(request), model)


def version() -> Call[str]:
    return Call("GET", "/api/version", _version)


def tags() -> Call[ListResponse]:
    return Call("GET", "/api/tags", _model(ListResponse))


def ps() -> Call[ProcessResponse]:
    return Call("GET", "/api/ps", _model(ProcessResponse))


def show(model: str) -> Call[ShowResponse]:
    return _post("/api/show", build(ModelRequest, model=model), ShowResponse, model)


def delete(model: str) -> Call[StatusResponse]:
    return Call("DELETE", "/api/delete", _success, encode(build(ModelRequest, model=model)), model)


def copy(source: str, destination: str) -> Call[StatusResponse]:
    request = build(CopyRequest, source=source, destination=destination)
    return Call("POST", "/api/copy", _success, encode(request), source)


def pull(model: str, insecure: bool, stream: bool) -> Call[ProgressResponse]:
    request = build(PullRequest, model=model, insecure=insecure, stream=stream)
    return _post("/api/pull", request, ProgressResponse, model)


def push(model: str, insecure: bool, stream: bool) -> Call[ProgressResponse]:
    request = build(PullRequest, model=model, insecure=insecure, stream=stream)
    return _post("/api/push", request, ProgressResponse, model)


def create(model: str, stream: bool, **kw: Any) -> Call[ProgressResponse]:
    """`/api/create` from structured fields, named as in `ollama.Client.create` (`from_`).

    `parameters` go as given: Ollama stores names it does not know (`PARAMETER pi 3.14`) and
    types nothing here, so neither does this (`options=` on a call is where typos are caught).
    """
    messages, parameters = kw.pop("messages", None), kw.pop("parameters", None)
    request = build(
        CreateRequest,
        model=model,
        stream=stream,
        parameters=None if parameters is None else as_dict(parameters),
        messages=as_messages(messages) if messages is not None else None,
        **{("from" if k == "from_" else k): v for k, v in kw.items()},
    )
    return _post("/api/create", request, ProgressResponse, kw.get("from_"))


def create_from_request(
    body: Mapping[str, Any], stream: bool, *, model: str | None = None
) -> Call[ProgressResponse]:
    """A ready `/api/create` body, sent as given (fields qwenkit does not model included);
    a 404 is about `model`."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequestError("a create request needs a model name")
    data = json.dumps({**body, "stream": stream}).encode()
    return Call("POST", "/api/create", _model(ProgressResponse), data, model)


def embed(
    model: str,
    input: str | Sequence[str],
    truncate: bool | None,
    options: OptionsLike | None,
    keep_alive: KeepAlive | None,
    dimensions: int | None,
) -> Call[EmbedResponse]:
    request = build(
        EmbedRequest,
        model=model,
        input=input if isinstance(input, str) else list(input),
        truncate=truncate,
        options=as_options(options),
        keep_alive=as_keep_alive(keep_alive),
        dimensions=dimensions,
    )
    return _post("/api/embed", request, EmbedResponse, model)


def embeddings(
    model: str, prompt: str | None, options: OptionsLike | None, keep_alive: KeepAlive | None
) -> Call[EmbeddingsResponse]:
    request = build(
        EmbeddingsRequest,
        model=model,
        prompt=prompt,
        options=as_options(options),
        keep_alive=as_keep_alive(keep_alive),
    )
    return _post("/api/embeddings", request, EmbeddingsResponse, model)


def web_search(
    query: str, max_results: int | None, headers: Mapping[str, str]
) -> Call[WebSearchResponse]:
    _need_bearer(headers, "web search")
    request = build(WebSearchRequest, query=query, max_results=max_results)
    return _post(f"{WEB_API}/web_search", request, WebSearchResponse, None)


def web_fetch(url: str, headers: Mapping[str, str]) -> Call[WebFetchResponse]:
    _need_bearer(headers, "web fetch")
    return _post(f"{WEB_API}/web_fetch", build(WebFetchRequest, url=url), WebFetchResponse, None)


def _need_bearer(headers: Mapping[str, str], what: str) -> None:
    """ollama.com answers 401 without a key; say so before sending, in `ollama`'s words."""
    if not headers.get("authorization", "").startswith("Bearer "):
        raise InvalidRequestError(
            f"Authorization header with Bearer token is required for {what}",
            hint="set OLLAMA_API_KEY (a key from ollama.com/settings/keys), or pass "
            "headers={'Authorization': 'Bearer <key>'}",
        )


def generate(model: str, prompt: str | None, stream: bool, **kw: Any) -> Call[GenerateResponse]:
    images = images_b64(kw.pop("images", None) or ()) or None
    request = build(
        GenerateRequest,
        model=model,
        prompt=prompt,
        stream=stream,
        images=images,
        format=as_format(kw.pop("format", None)),
        options=as_options(kw.pop("options", None)),
        keep_alive=as_keep_alive(kw.pop("keep_alive", None)),
        context=list(kw.pop("context", None) or ()) or None,
        **kw,
    )
    return Call("POST", "/api/generate", _finished_generate, encode(request), model)


def chat(request: ChatRequest) -> Call[ChatResponse]:
    return Call("POST", "/api/chat", _finished_chat, encode(request), request.model)
