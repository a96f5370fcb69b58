"""`AsyncClient`: `qwenkit.Client` for asyncio/trio, the same methods awaited.

Each method is `Client`'s with `await`: the same `qwenkit.client._requests` builders, the same
transport error mapping, the same flows (`qwenkit.client._flow`) for structured output and tools,
run by the async drivers so async tools are awaited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from typing_extensions import overload  # registered for get_overloads on Python 3.10 too

from .._common.config import resolve_host
from .._common.lazy import defer
from ._transport import DEFAULT_TIMEOUT, AsyncTransport

if TYPE_CHECKING:
    import anyio.to_thread as threads
    import httpx
    from typing_extensions import Unpack

    from ..types import (
        ChatRequest,
        ChatResponse,
        EmbeddingsResponse,
        EmbedResponse,
        GenerateResponse,
        KeepAlive,
        ListResponse,
        ProcessResponse,
        ProgressResponse,
        ShowResponse,
        StatusResponse,
        WebFetchResponse,
        WebSearchResponse,
    )
    from . import _blobs as blobs
    from . import _flow as flows
    from . import _requests as rq
    from . import _streaming as streams
    from ._blobs import PathLike, Progress
    from ._flow import ChatKwargs
    from ._requests import CreateKwargs, GenerateKwargs, MessageLike, OptionsLike
    from ._streaming import AsyncChatStream, AsyncGenerateStream, AsyncProgressStream

    Messages = Sequence[MessageLike] | None
else:  # imported on the first call, as in `Client` (see there for why)
    defer(
        globals(),
        blobs="qwenkit.client._blobs",
        flows="qwenkit.client._flow",
        rq="qwenkit.client._requests",
        streams="qwenkit.client._streaming",
        threads="anyio.to_thread",
    )

T = TypeVar("T")


class AsyncClient:
    """The `Client` API for asyncio/trio: every method is awaited; streams are `async for`.
    Settings as in `Client`; other keywords go to `httpx.AsyncClient`."""

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **httpx_options: Any,
    ) -> None:
        self._http = AsyncTransport(
            resolve_host(host),
            timeout=timeout,
            headers=headers,
            transport=transport,
            **httpx_options,
        )

    @property
    def host(self) -> str:
        """The resolved base URL, e.g. `http://127.0.0.1:11434`."""
        return self._http.host

    async def aclose(self) -> None:
        await self._http.aclose()

    async def close(self) -> None:
        """`aclose()` by the `ollama` client's name for it."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _do(self, call: rq.Call[T]) -> T:
        body = await self._http.request(call.method, call.path, call.body, model=call.model)
        return call.read(body, self.host)

    def _lines(self, call: rq.Call[Any]) -> AsyncIterator[bytes]:
        return self._http.lines(call.method, call.path, call.body, model=call.model)

    async def _progress(
        self, call: rq.Call[ProgressResponse], stream: bool
    ) -> ProgressResponse | AsyncProgressStream:
        if stream:
            return streams.aprogress_stream(self._lines(call), self.host)
        return await self._do(call)

    async def version(self) -> str:
        """The server's version string, e.g. `0.12.10`."""
        return await self._do(rq.version())

    async def list(self) -> ListResponse:
        """Local models (`/api/tags`)."""
        return await self._do(rq.tags())

    async def ps(self) -> ProcessResponse:
        """Loaded models, with the context length and VRAM share each really got."""
        return await self._do(rq.ps())

    async def show(self, model: str) -> ShowResponse:
        """Modelfile, parameters, template, GGUF metadata and capabilities of a model."""
        return await self._do(rq.show(model))

    async def delete(self, model: str) -> StatusResponse:
        """Remove a local model; `ModelNotFoundError` if there is none of that name."""
        return await self._do(rq.delete(model))

    async def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy `source` to the new name `destination`; the blobs are shared, not copied."""
        return await self._do(rq.copy(source, destination))

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
        """Download a model; `stream=True` yields per-layer `ProgressResponse`s."""
        return await self._progress(rq.pull(model, insecure, stream), stream)

    @overload
    async def push(
        self, model: str, *, insecure: bool = ..., stream: Literal[False] = False
    ) -> ProgressResponse: ...
    @overload
    async def push(
        self, model: str, *, insecure: bool = ..., stream: Literal[True]
    ) -> AsyncProgressStream: ...
    async def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncProgressStream:
        """Upload a model to its registry (`namespace/model`, signed in with `ollama signin`);
        `stream=True` yields `ProgressResponse`s."""
        return await self._progress(rq.push(model, insecure, stream), stream)

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
        """Create a model from structured fields: `from_`, `files`, `adapters`, `template`,
        `license`, `system`, `parameters`, `messages`, `quantize` (as `ollama.Client.create`)."""
        return await self._progress(rq.create(model, stream, **kw), stream)

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
        """Send a ready `/api/create` body (e.g. `Modelfile.to_create_request(...)`)."""
        call = rq.create_from_request(body, stream, model=body.get("from"))
        return await self._progress(call, stream)

    @overload
    async def create_from_modelfile(
        self,
        model: str,
        modelfile: Any,
        *,
        base_dir: PathLike | None = None,
        stream: Literal[False] = False,
    ) -> ProgressResponse: ...
    @overload
    async def create_from_modelfile(
        self, model: str, modelfile: Any, *, base_dir: PathLike | None = None, stream: Literal[True]
    ) -> AsyncProgressStream: ...
    async def create_from_modelfile(
        self, model: str, modelfile: Any, *, base_dir: PathLike | None = None, stream: bool = False
    ) -> ProgressResponse | AsyncProgressStream:
        """Upload a Modelfile's local files as blobs, then create `model` from it.

        `modelfile` is a `qwenkit.Modelfile`, Modelfile text, or a path to one (relative
        FROM/ADAPTER paths then resolve against its folder unless `base_dir` is given).
        """
        job = blobs.ModelfileJob.of(model, modelfile, base_dir)
        uploaded = {name: await self.create_blob(path) for name, path in job.files().items()}
        return await self._progress(job.call(uploaded, stream), stream)

    async def has_blob(self, digest: str) -> bool:
        """Whether the server already holds the blob (HEAD /api/blobs/<digest>)."""
        return blobs.blob_exists(await self._http.head(blobs.blob_path(digest)), digest, self.host)

    async def create_blob(self, path: PathLike, *, progress: Progress | None = None) -> str:
        """Upload a file unless the server has it; returns `sha256:<hex>` for `files=`."""
        digest = await threads.run_sync(blobs.file_digest, path)
        if await self.has_blob(digest):
            blobs.report_present(path, progress)
        else:
            chunks = blobs.afile_chunks(path, progress)
            await self._http.request("POST", blobs.blob_path(digest), chunks)
        return digest

    async def embed(
        self, model: str, input: str | Sequence[str], *, truncate: bool | None = None,
        options: OptionsLike | None = None, keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> EmbedResponse:  # fmt: skip
        """One embedding vector per input (`/api/embed`)."""
        return await self._do(rq.embed(model, input, truncate, options, keep_alive, dimensions))

    async def embeddings(
        self, model: str, prompt: str | None = None, options: OptionsLike | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbeddingsResponse:  # fmt: skip
        """One vector for one prompt (the older `/api/embeddings`; `embed` supersedes it)."""
        return await self._do(rq.embeddings(model, prompt, options, keep_alive))

    async def web_search(self, query: str, max_results: int = 3) -> WebSearchResponse:
        """Search the web through ollama.com (needs `OLLAMA_API_KEY` or a bearer header)."""
        return await self._do(rq.web_search(query, max_results, self._http.headers))

    async def web_fetch(self, url: str) -> WebFetchResponse:
        """A web page's title, text and links, fetched by ollama.com (bearer auth as above)."""
        return await self._do(rq.web_fetch(url, self._http.headers))

    @overload
    async def generate(
        self,
        model: str,
        prompt: str | None = None,
        *,
        stream: Literal[False] = False,
        **kw: Unpack[GenerateKwargs],
    ) -> GenerateResponse: ...
    @overload
    async def generate(
        self,
        model: str,
        prompt: str | None = None,
        *,
        stream: Literal[True],
        **kw: Unpack[GenerateKwargs],
    ) -> AsyncGenerateStream: ...
    async def generate(
        self, model: str, prompt: str | None = None, *, stream: bool = False, **kw: Any
    ) -> GenerateResponse | AsyncGenerateStream:
        """Raw completion (`/api/generate`); `stream=True` yields `GenerateChunk`s."""
        call = rq.generate(model, prompt, stream, **kw)
        if stream:
            return streams.agenerate_stream(self._lines(call), self.host)
        return await self._do(call)

    @overload
    async def chat(
        self,
        model: str,
        messages: Messages = None,
        *,
        stream: Literal[False] = False,
        **kw: Unpack[ChatKwargs],
    ) -> ChatResponse: ...
    @overload
    async def chat(
        self,
        model: str,
        messages: Messages = None,
        *,
        stream: Literal[True],
        **kw: Unpack[ChatKwargs],
    ) -> AsyncChatStream: ...
    @overload
    async def chat(
        self,
        model: str,
        messages: Messages = None,
        *,
        stream: bool,
        **kw: Unpack[ChatKwargs],
    ) -> ChatResponse | AsyncChatStream: ...
    async def chat(
        self, model: str, messages: Messages = None, *, stream: bool = False,
        **kw: Any,
    ) -> ChatResponse | AsyncChatStream:  # fmt: skip
        """Chat (`/api/chat`); `stream=True` yields `ChatChunk`s and `.final()` merges them.

        Keywords as in `ollama.Client.chat` (`tools`, `format`, `options`, `keep_alive`,
        `think`, `logprobs`, `top_logprobs`), plus `response_model=` (validated into
        `.parsed`, re-asked up to `max_retries=2` times) and `run_tools=True` (runs the tools,
        at most `max_tool_rounds=8` rounds; the transcript is in `.messages`).

        Async tools are awaited inside the tool loop.
        """
        step = flows.chat_step(model, messages, stream, kw)
        if isinstance(step, flows.ChatPlan):
            flow = step.flow(sync=False)
            if stream:
                return flows.astream_flow(flow, self._chat_stream)
            return await flows.adrive(flow, self._chat_once)
        if stream:
            return streams.achat_stream(self._lines(step), self.host)
        return await self._do(step)

    async def _chat_once(self, request: ChatRequest) -> ChatResponse:
        return await self._do(rq.chat(request))

    def _chat_stream(self, request: ChatRequest) -> AsyncChatStream:
        return streams.achat_stream(self._lines(rq.chat(request)), self.host)


__all__ = ["AsyncClient"]
