"""`Client` and `AsyncClient`: Ollama's native API with types, strict options and one error tree.

Call shapes mirror the official `ollama` client, so its code runs after changing the import.
Each method builds a request model (`qwenkit.types`), hands bytes to the transport
(`qwenkit._transport`, the only httpx code) and parses the answer; multi-step chats
(`response_model=`, `run_tools=True`) run a shared sans-I/O flow. The two classes differ only
in `await`.

```python
with qwenkit.Client() as client:               # OLLAMA_HOST, 5 s connect timeout, no read limit
    for chunk in client.chat("qwenkit-chat", [{"role": "user", "content": "Hi"}], stream=True):
        print(chunk.message.content, end="")
```
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload

from pydantic import BaseModel

from ._config import resolve_host
from ._streaming import (
    AsyncChatStream,
    AsyncGenerateStream,
    AsyncProgressStream,
    ChatStream,
    Flow,
    GenerateStream,
    ProgressStream,
    achat_stream,
    adrive,
    agenerate_stream,
    aprogress_stream,
    astream_flow,
    chat_stream,
    drive,
    generate_stream,
    progress_stream,
    stream_flow,
)
from ._transport import DEFAULT_TIMEOUT, AsyncTransport, SyncTransport, parse_body
from .errors import ProtocolError, ToolError
from .types import (
    ChatRequest,
    ChatResponse,
    CopyRequest,
    CreateRequest,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    InvalidRequestError,
    KeepAlive,
    ListResponse,
    ModelRequest,
    ProcessResponse,
    ProgressResponse,
    PullRequest,
    ShowResponse,
    StatusResponse,
    Think,
    as_format,
    as_keep_alive,
    as_messages,
    as_options,
    build,
    encode,
)

if TYPE_CHECKING:
    import httpx
    from typing_extensions import Unpack

    from .tools import ToolLike, ToolSet

MessageLike = Mapping[str, Any] | BaseModel
OptionsLike = Mapping[str, Any] | BaseModel
Progress = Callable[[int, int], None]
_CHUNK = 1 << 20


class ChatKwargs(TypedDict, total=False):
    """The keyword arguments of `chat` besides `stream` (for the typed overloads)."""

    tools: Sequence[ToolLike] | None
    format: Any
    options: OptionsLike | None
    keep_alive: KeepAlive | None
    think: Think | None
    response_model: type[BaseModel] | None
    max_retries: int
    run_tools: bool
    max_tool_rounds: int


class GenerateKwargs(TypedDict, total=False):
    suffix: str | None
    system: str | None
    template: str | None
    context: Sequence[int] | None
    raw: bool | None
    format: Any
    images: Sequence[str | bytes] | None
    options: OptionsLike | None
    keep_alive: KeepAlive | None
    think: Think | None


class CreateKwargs(TypedDict, total=False):
    from_: str | None
    files: Mapping[str, str] | None
    adapters: Mapping[str, str] | None
    template: str | None
    license: str | Sequence[str] | None
    system: str | None
    parameters: OptionsLike | None
    messages: Sequence[MessageLike] | None
    quantize: str | None


# --------------------------------------------------------------------------- shared building


@dataclass
class _ChatPlan:
    """A validated chat call: the first request, and how to continue if it is multi-step."""

    base: dict[str, Any]
    messages: builtins.list[dict[str, Any]]
    toolset: ToolSet | None
    response_model: type[BaseModel] | None
    max_retries: int
    run_tools: bool
    max_rounds: int
    first: ChatRequest | None = None

    def request(self, messages: builtins.list[dict[str, Any]] | None = None) -> ChatRequest:
        result: ChatRequest = build(ChatRequest, **self.base, messages=messages or self.messages)
        return result

    @property
    def simple(self) -> bool:
        return self.toolset is None and self.response_model is None

    def flow(self) -> Flow:
        from .structured import structured_flow
        from .tools import tool_flow

        def ask(messages: builtins.list[dict[str, Any]]) -> Flow:
            return tool_flow(
                self.request,
                messages,
                self.toolset,
                run_tools=self.run_tools,
                max_rounds=self.max_rounds,
            )

        if self.response_model is not None:
            return structured_flow(ask, self.messages, self.response_model, self.max_retries)
        return ask(self.messages)


def _plan_chat(
    model: str, messages: Sequence[MessageLike] | None, stream: bool, **kw: Any
) -> _ChatPlan:
    unknown = set(kw) - set(ChatKwargs.__annotations__)
    if unknown:
        raise TypeError(f"chat() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    toolset = None
    if kw.get("tools"):
        from .tools import ToolSet

        toolset = ToolSet.of(kw["tools"])
    response_model = kw.get("response_model")
    fmt = kw.get("format")
    if response_model is not None and fmt is None:
        fmt = response_model
    base = {
        "model": model,
        "tools": toolset.schemas if toolset else None,
        "format": as_format(fmt),
        "options": as_options(kw.get("options")),
        "stream": stream,
        "keep_alive": as_keep_alive(kw.get("keep_alive")),
        "think": kw.get("think"),
    }
    plan = _ChatPlan(
        base=base,
        messages=as_messages(messages),
        toolset=toolset,
        response_model=response_model,
        max_retries=kw.get("max_retries", 2),
        run_tools=kw.get("run_tools", False),
        max_rounds=kw.get("max_tool_rounds", 8),
    )
    plan.first = plan.request()  # validate now, before anything is sent
    return plan


def _embed_request(
    model: str,
    input: str | Sequence[str],
    truncate: bool | None,
    options: OptionsLike | None,
    keep_alive: KeepAlive | None,
    dimensions: int | None,
) -> EmbedRequest:
    req: EmbedRequest = build(
        EmbedRequest,
        model=model,
        input=input if isinstance(input, str) else builtins.list(input),
        truncate=truncate,
        options=as_options(options),
        keep_alive=as_keep_alive(keep_alive),
        dimensions=dimensions,
    )
    return req


def _generate_request(model: str, prompt: str | None, stream: bool, **kw: Any) -> GenerateRequest:
    images = [_b64(i) for i in kw.pop("images", None) or ()] or None
    req: GenerateRequest = build(
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
    return req


def _create_request(model: str, stream: bool, **kw: Any) -> CreateRequest:
    messages = kw.pop("messages", None)
    req: CreateRequest = build(
        CreateRequest,
        model=model,
        stream=stream,
        parameters=as_options(kw.pop("parameters", None)),
        messages=as_messages(messages) if messages is not None else None,
        **{("from" if k == "from_" else k): v for k, v in kw.items()},
    )
    return req


def _create_body(body: Mapping[str, Any], stream: bool) -> bytes:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequestError("a create request needs a model name")
    return json.dumps({**body, "stream": stream}).encode()


def _b64(image: str | bytes) -> str:
    return base64.b64encode(image).decode() if isinstance(image, bytes) else image


def _version(body: bytes, host: str) -> str:
    try:
        return str(json.loads(body)["version"])
    except (ValueError, KeyError, TypeError):
        raise ProtocolError(f"{host} did not answer /api/version like Ollama", host=host) from None


def file_digest(path: str | os.PathLike[str]) -> str:
    """`sha256:<hex>` of a file, read in 1 MiB chunks."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"


def _file_chunks(path: str | os.PathLike[str], progress: Progress | None) -> Iterator[bytes]:
    total, done = os.path.getsize(path), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            done += len(chunk)
            yield chunk
            if progress:
                progress(done, total)


async def _afile_chunks(
    path: str | os.PathLike[str], progress: Progress | None
) -> AsyncIterator[bytes]:
    for chunk in _file_chunks(path, progress):
        yield chunk


def _load_modelfile(
    modelfile: Any, base_dir: str | os.PathLike[str] | None
) -> tuple[Any, Path | None]:
    """A `Modelfile` from an object, Modelfile text, or a path (whose folder is the base)."""
    if isinstance(modelfile, os.PathLike):
        path = Path(modelfile)
        return _load_modelfile(path.read_bytes(), base_dir or path.parent)
    if isinstance(modelfile, (str, bytes)):
        from .modelfile import Modelfile

        modelfile = Modelfile.parse(modelfile)
    return modelfile, Path(base_dir) if base_dir is not None else None


# --------------------------------------------------------------------------- sync client


class Client:
    """A blocking Ollama client. `host` defaults to `OLLAMA_HOST`, then 127.0.0.1:11434.

    `timeout` defaults to 5 s to connect and no limit while reading (a long generation is not
    cut); pass seconds or an `httpx.Timeout` to change it. Bearer auth comes from
    `OLLAMA_API_KEY` and is never logged. `transport=` swaps the HTTP layer (tests, proxies).
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = SyncTransport(
            resolve_host(host), timeout=timeout, headers=headers, transport=transport
        )

    @property
    def host(self) -> str:
        """The resolved base URL, e.g. `http://127.0.0.1:11434`."""
        return self._http.host

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, request: BaseModel, cls: type[Any], model: str | None) -> Any:
        body = self._http.request("POST", path, encode(request), model=model)
        return parse_body(cls, body, self.host)

    def _lines(self, path: str, body: bytes, model: str | None) -> Iterator[bytes]:
        return self._http.lines("POST", path, body, model=model)

    # -- models ------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version string, e.g. `0.12.10`."""
        return _version(self._http.request("GET", "/api/version"), self.host)

    def list(self) -> ListResponse:
        """Local models (`/api/tags`)."""
        return parse_body(ListResponse, self._http.request("GET", "/api/tags"), self.host)

    def ps(self) -> ProcessResponse:
        """Loaded models, with the context length and VRAM share each really got."""
        return parse_body(ProcessResponse, self._http.request("GET", "/api/ps"), self.host)

    def show(self, model: str) -> ShowResponse:
        """Modelfile, parameters, template, GGUF metadata and capabilities of a model."""
        result: ShowResponse = self._post(
            "/api/show", build(ModelRequest, model=model), ShowResponse, model
        )
        return result

    def delete(self, model: str) -> StatusResponse:
        self._http.request(
            "DELETE", "/api/delete", encode(build(ModelRequest, model=model)), model=model
        )
        return StatusResponse(status="success")

    def copy(self, source: str, destination: str) -> StatusResponse:
        request = build(CopyRequest, source=source, destination=destination)
        self._http.request("POST", "/api/copy", encode(request), model=source)
        return StatusResponse(status="success")

    @overload
    def pull(
        self, model: str, *, insecure: bool = ..., stream: Literal[False] = False
    ) -> ProgressResponse: ...
    @overload
    def pull(
        self, model: str, *, insecure: bool = ..., stream: Literal[True]
    ) -> ProgressStream: ...
    def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | ProgressStream:
        """Download a model; `stream=True` yields per-layer `ProgressResponse`s."""
        request = build(PullRequest, model=model, insecure=insecure, stream=stream)
        return self._progress("/api/pull", encode(request), stream, model)

    def _progress(
        self, path: str, body: bytes, stream: bool, model: str | None
    ) -> ProgressResponse | ProgressStream:
        if stream:
            return progress_stream(self._lines(path, body, model), self.host)
        return parse_body(
            ProgressResponse, self._http.request("POST", path, body, model=model), self.host
        )

    @overload
    def create(
        self, model: str, *, stream: Literal[False] = False, **kw: Unpack[CreateKwargs]
    ) -> ProgressResponse: ...
    @overload
    def create(
        self, model: str, *, stream: Literal[True], **kw: Unpack[CreateKwargs]
    ) -> ProgressStream: ...
    def create(
        self,
        model: str,
        *,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsLike | None = None,
        messages: Sequence[MessageLike] | None = None,
        quantize: str | None = None,
        stream: bool = False,
    ) -> ProgressResponse | ProgressStream:
        """Create a model from structured fields (as `ollama.Client.create`)."""
        request = _create_request(
            model, stream, from_=from_, files=files, adapters=adapters, template=template,
            license=license, system=system, parameters=parameters, messages=messages,
            quantize=quantize,
        )  # fmt: skip
        return self._progress("/api/create", encode(request), stream, from_)

    @overload
    def create_from_request(
        self, body: Mapping[str, Any], *, stream: Literal[False] = False
    ) -> ProgressResponse: ...
    @overload
    def create_from_request(
        self, body: Mapping[str, Any], *, stream: Literal[True]
    ) -> ProgressStream: ...
    def create_from_request(
        self, body: Mapping[str, Any], *, stream: bool = False
    ) -> ProgressResponse | ProgressStream:
        """Send a ready `/api/create` body (e.g. `Modelfile.to_create_request(...)`)."""
        return self._progress("/api/create", _create_body(body, stream), stream, body.get("from"))

    @overload
    def create_from_modelfile(
        self, model: str, modelfile: Any, *, base_dir: str | os.PathLike[str] | None = None,
        stream: Literal[False] = False,
    ) -> ProgressResponse: ...  # fmt: skip
    @overload
    def create_from_modelfile(
        self, model: str, modelfile: Any, *, base_dir: str | os.PathLike[str] | None = None,
        stream: Literal[True],
    ) -> ProgressStream: ...  # fmt: skip
    def create_from_modelfile(
        self,
        model: str,
        modelfile: Any,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        stream: bool = False,
    ) -> ProgressResponse | ProgressStream:
        """Upload a Modelfile's local files as blobs, then create `model` from it.

        `modelfile` is a `qwenkit.Modelfile`, Modelfile text, or a path to one (relative
        FROM/ADAPTER paths then resolve against its folder unless `base_dir` is given).
        """
        parsed_file, base = _load_modelfile(modelfile, base_dir)
        files = parsed_file.local_files(base)
        blobs = {name: self.create_blob(path) for name, path in files.items()}
        body = parsed_file.to_create_request(model, blobs=blobs, base_dir=base)
        return self._progress("/api/create", _create_body(body, stream), stream, None)

    def has_blob(self, digest: str) -> bool:
        """Whether the server already holds the blob (HEAD /api/blobs/<digest>)."""
        status = self._http.head(f"/api/blobs/{digest}")
        if status in (200, 404):
            return status == 200
        raise ProtocolError(f"HEAD /api/blobs/{digest} answered {status}", host=self.host)

    def create_blob(self, path: str | os.PathLike[str], *, progress: Progress | None = None) -> str:
        """Upload a file unless the server has it; returns `sha256:<hex>` for `files=`."""
        digest = file_digest(path)
        if self.has_blob(digest):
            if progress:
                size = os.path.getsize(path)
                progress(size, size)
            return digest
        self._http.request("POST", f"/api/blobs/{digest}", _file_chunks(path, progress))
        return digest

    # -- inference ---------------------------------------------------------------------

    def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        truncate: bool | None = None,
        options: OptionsLike | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> EmbedResponse:
        request = _embed_request(model, input, truncate, options, keep_alive, dimensions)
        result: EmbedResponse = self._post("/api/embed", request, EmbedResponse, model)
        return result

    @overload
    def generate(
        self, model: str, prompt: str | None = None, *, stream: Literal[False] = False,
        **kw: Unpack[GenerateKwargs],
    ) -> GenerateResponse: ...  # fmt: skip
    @overload
    def generate(
        self, model: str, prompt: str | None = None, *, stream: Literal[True],
        **kw: Unpack[GenerateKwargs],
    ) -> GenerateStream: ...  # fmt: skip
    def generate(
        self, model: str, prompt: str | None = None, *, stream: bool = False, **kw: Any
    ) -> GenerateResponse | GenerateStream:
        """Raw completion (`/api/generate`)."""
        request = _generate_request(model, prompt, stream, **kw)
        if stream:
            return generate_stream(self._lines("/api/generate", encode(request), model), self.host)
        result: GenerateResponse = self._post("/api/generate", request, GenerateResponse, model)
        return result

    @overload
    def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *,
        stream: Literal[False] = False, **kw: Unpack[ChatKwargs],
    ) -> ChatResponse: ...  # fmt: skip
    @overload
    def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *,
        stream: Literal[True], **kw: Unpack[ChatKwargs],
    ) -> ChatStream: ...  # fmt: skip
    @overload
    def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *,
        stream: bool, **kw: Unpack[ChatKwargs],
    ) -> ChatResponse | ChatStream: ...  # fmt: skip
    def chat(
        self,
        model: str,
        messages: Sequence[MessageLike] | None = None,
        *,
        tools: Sequence[ToolLike] | None = None,
        format: Any = None,
        options: OptionsLike | None = None,
        stream: bool = False,
        keep_alive: KeepAlive | None = None,
        think: Think | None = None,
        response_model: type[BaseModel] | None = None,
        max_retries: int = 2,
        run_tools: bool = False,
        max_tool_rounds: int = 8,
    ) -> ChatResponse | ChatStream:
        """Chat; `response_model=` validates into `.parsed`, `run_tools=True` runs the tools."""
        plan = _plan_chat(
            model, messages, stream, tools=tools, format=format, options=options,
            keep_alive=keep_alive, think=think, response_model=response_model,
            max_retries=max_retries, run_tools=run_tools, max_tool_rounds=max_tool_rounds,
        )  # fmt: skip
        if plan.simple:
            first = plan.first or plan.request()
            return self._chat_stream(first) if stream else self._chat_once(first)
        if run_tools and plan.toolset is not None and plan.toolset.has_async:
            raise ToolError("async tools need qwenkit.AsyncClient", hint="or pass sync functions")
        flow = plan.flow()
        return stream_flow(flow, self._chat_stream) if stream else drive(flow, self._chat_once)

    def _chat_once(self, request: ChatRequest) -> ChatResponse:
        result: ChatResponse = self._post("/api/chat", request, ChatResponse, request.model)
        return result

    def _chat_stream(self, request: ChatRequest) -> ChatStream:
        return chat_stream(self._lines("/api/chat", encode(request), request.model), self.host)


# --------------------------------------------------------------------------- async client


class AsyncClient:
    """The `Client` API for asyncio/trio: every method is awaited; streams are `async for`."""

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = AsyncTransport(
            resolve_host(host), timeout=timeout, headers=headers, transport=transport
        )

    @property
    def host(self) -> str:
        return self._http.host

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _post(self, path: str, request: BaseModel, cls: type[Any], model: str | None) -> Any:
        body = await self._http.request("POST", path, encode(request), model=model)
        return parse_body(cls, body, self.host)

    def _lines(self, path: str, body: bytes, model: str | None) -> AsyncIterator[bytes]:
        return self._http.lines("POST", path, body, model=model)

    async def version(self) -> str:
        return _version(await self._http.request("GET", "/api/version"), self.host)

    async def list(self) -> ListResponse:
        return parse_body(ListResponse, await self._http.request("GET", "/api/tags"), self.host)

    async def ps(self) -> ProcessResponse:
        return parse_body(ProcessResponse, await self._http.request("GET", "/api/ps"), self.host)

    async def show(self, model: str) -> ShowResponse:
        result: ShowResponse = await self._post(
            "/api/show", build(ModelRequest, model=model), ShowResponse, model
        )
        return result

    async def delete(self, model: str) -> StatusResponse:
        body = encode(build(ModelRequest, model=model))
        await self._http.request("DELETE", "/api/delete", body, model=model)
        return StatusResponse(status="success")

    async def copy(self, source: str, destination: str) -> StatusResponse:
        request = build(CopyRequest, source=source, destination=destination)
        await self._http.request("POST", "/api/copy", encode(request), model=source)
        return StatusResponse(status="success")

    @overload
    async def pull(
        self, model: str, *, insecure: bool = ..., stream: Literal[False] = False
    ) -> ProgressResponse: ...
    @overload
    async def pull(
        self, model: str, *, insecure: bool = ..., stream: Literal[True]
    ) -> AsyncProgressStream: ...
    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncProgressStream:
        request = build(PullRequest, model=model, insecure=insecure, stream=stream)
        return await self._progress("/api/pull", encode(request), stream, model)

    async def _progress(
        self, path: str, body: bytes, stream: bool, model: str | None
    ) -> ProgressResponse | AsyncProgressStream:
        if stream:
            return aprogress_stream(self._lines(path, body, model), self.host)
        answer = await self._http.request("POST", path, body, model=model)
        return parse_body(ProgressResponse, answer, self.host)

    @overload
    async def create(
        self, model: str, *, stream: Literal[False] = False, **kw: Unpack[CreateKwargs]
    ) -> ProgressResponse: ...
    @overload
    async def create(
        self, model: str, *, stream: Literal[True], **kw: Unpack[CreateKwargs]
    ) -> AsyncProgressStream: ...
    async def create(
        self, model: str, *, stream: bool = False, **kw: Any
    ) -> ProgressResponse | AsyncProgressStream:
        request = _create_request(model, stream, **kw)
        return await self._progress("/api/create", encode(request), stream, kw.get("from_"))

    @overload
    async def create_from_request(
        self, body: Mapping[str, Any], *, stream: Literal[False] = False
    ) -> ProgressResponse: ...
    @overload
    async def create_from_request(
        self, body: Mapping[str, Any], *, stream: Literal[True]
    ) -> AsyncProgressStream: ...
    async def create_from_request(
        self, body: Mapping[str, Any], *, stream: bool = False
    ) -> ProgressResponse | AsyncProgressStream:
        data = _create_body(body, stream)
        return await self._progress("/api/create", data, stream, body.get("from"))

    async def create_from_modelfile(
        self,
        model: str,
        modelfile: Any,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        stream: bool = False,
    ) -> ProgressResponse | AsyncProgressStream:
        parsed_file, base = _load_modelfile(modelfile, base_dir)
        files = parsed_file.local_files(base)
        blobs = {name: await self.create_blob(path) for name, path in files.items()}
        body = parsed_file.to_create_request(model, blobs=blobs, base_dir=base)
        return await self._progress("/api/create", _create_body(body, stream), stream, None)

    async def has_blob(self, digest: str) -> bool:
        status = await self._http.head(f"/api/blobs/{digest}")
        if status in (200, 404):
            return status == 200
        raise ProtocolError(f"HEAD /api/blobs/{digest} answered {status}", host=self.host)

    async def create_blob(
        self, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> str:
        import anyio.to_thread

        digest = await anyio.to_thread.run_sync(file_digest, path)
        if await self.has_blob(digest):
            if progress:
                size = os.path.getsize(path)
                progress(size, size)
            return digest
        await self._http.request("POST", f"/api/blobs/{digest}", _afile_chunks(path, progress))
        return digest

    async def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        truncate: bool | None = None,
        options: OptionsLike | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> EmbedResponse:
        request = _embed_request(model, input, truncate, options, keep_alive, dimensions)
        result: EmbedResponse = await self._post("/api/embed", request, EmbedResponse, model)
        return result

    @overload
    async def generate(
        self, model: str, prompt: str | None = None, *, stream: Literal[False] = False,
        **kw: Unpack[GenerateKwargs],
    ) -> GenerateResponse: ...  # fmt: skip
    @overload
    async def generate(
        self, model: str, prompt: str | None = None, *, stream: Literal[True],
        **kw: Unpack[GenerateKwargs],
    ) -> AsyncGenerateStream: ...  # fmt: skip
    async def generate(
        self, model: str, prompt: str | None = None, *, stream: bool = False, **kw: Any
    ) -> GenerateResponse | AsyncGenerateStream:
        request = _generate_request(model, prompt, stream, **kw)
        if stream:
            return agenerate_stream(self._lines("/api/generate", encode(request), model), self.host)
        result: GenerateResponse = await self._post(
            "/api/generate", request, GenerateResponse, model
        )
        return result

    @overload
    async def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *,
        stream: Literal[False] = False, **kw: Unpack[ChatKwargs],
    ) -> ChatResponse: ...  # fmt: skip
    @overload
    async def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *,
        stream: Literal[True], **kw: Unpack[ChatKwargs],
    ) -> AsyncChatStream: ...  # fmt: skip
    @overload
    async def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *,
        stream: bool, **kw: Unpack[ChatKwargs],
    ) -> ChatResponse | AsyncChatStream: ...  # fmt: skip
    async def chat(
        self, model: str, messages: Sequence[MessageLike] | None = None, *, stream: bool = False,
        **kw: Any,
    ) -> ChatResponse | AsyncChatStream:  # fmt: skip
        """`Client.chat`, awaited; async tools are awaited inside the tool loop."""
        plan = _plan_chat(model, messages, stream, **kw)
        if plan.simple:
            if stream:
                return self._chat_stream(plan.first or plan.request())
            return await self._chat_once(plan.first or plan.request())
        flow = plan.flow()
        if stream:
            return astream_flow(flow, self._chat_stream)
        return await adrive(flow, self._chat_once)

    async def _chat_once(self, request: ChatRequest) -> ChatResponse:
        result: ChatResponse = await self._post("/api/chat", request, ChatResponse, request.model)
        return result

    def _chat_stream(self, request: ChatRequest) -> AsyncChatStream:
        return achat_stream(self._lines("/api/chat", encode(request), request.model), self.host)


__all__ = ["AsyncClient", "ChatStream", "Client", "file_digest"]
