"""`Client` and `AsyncClient`: Ollama's native API with types, strict options and one error tree.

Call shapes mirror the official `ollama` client, so its code runs after changing the import.
Every method is a few lines: a builder in `qwenkit.client._requests` checks the arguments and
describes the HTTP call, the transport (`_transport`, the only httpx code) sends it,
and the described reader parses the answer. Multi-step chats (`response_model=`,
`run_tools=True`) run a shared flow (`_flow`). The two classes differ only in `await`.

```python
with qwenkit.Client() as client:               # OLLAMA_HOST, 5 s connect timeout, no read limit
    for chunk in client.chat("qwenkit-chat", [{"role": "user", "content": "Hi"}], stream=True):
        print(chunk.message.content, end="")
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from typing_extensions import overload  # registered for get_overloads on Python 3.10 too

from .._common.config import resolve_host
from .._common.lazy import defer
from ._async_client import AsyncClient
from ._transport import DEFAULT_TIMEOUT, SyncTransport

if TYPE_CHECKING:
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
    from ._streaming import ChatStream, GenerateStream, ProgressStream

    Messages = Sequence[MessageLike] | None
else:
    # Defining the request and response models these modules import is two thirds of
    # `import qwenkit; qwenkit.Client` (benchmarks/bench_import_instructions.py): the first
    # call pays it instead, and a script that only builds a client never does.
    defer(
        globals(),
        blobs="qwenkit.client._blobs",
        flows="qwenkit.client._flow",
        rq="qwenkit.client._requests",
        streams="qwenkit.client._streaming",
    )

T = TypeVar("T")


class Client:
    """A blocking Ollama client. `host` defaults to `OLLAMA_HOST`, then 127.0.0.1:11434.

    `timeout` defaults to 5 s to connect and no limit while reading (a long generation is not
    cut); pass seconds or an `httpx.Timeout` to change it. Bearer auth comes from
    `OLLAMA_API_KEY` (or `headers=`) and is never logged. `transport=` swaps the HTTP layer
    (tests, proxies); other keywords go to `httpx.Client` as in `ollama.Client` (`verify=`,
    `cert=`, `proxy=`, `follow_redirects=`, ...).
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        **httpx_options: Any,
    ) -> None:
        self._http = SyncTransport(
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

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _do(self, call: rq.Call[T]) -> T:
        body = self._http.request(call.method, call.path, call.body, model=call.model)
        return call.read(body, self.host)

    def _lines(self, call: rq.Call[Any]) -> Iterator[bytes]:
        return self._http.lines(call.method, call.path, call.body, model=call.model)

    def _progress(
        self, call: rq.Call[ProgressResponse], stream: bool
    ) -> ProgressResponse | ProgressStream:
        return streams.progress_stream(self._lines(call), self.host) if stream else self._do(call)

    # -- models ------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version string, e.g. `0.12.10`."""
        return self._do(rq.version())

    def list(self) -> ListResponse:
        """Local models (`/api/tags`)."""
        return self._do(rq.tags())

    def ps(self) -> ProcessResponse:
        """Loaded models, with the context length and VRAM share each really got."""
        return self._do(rq.ps())

    def show(self, model: str) -> ShowResponse:
        """Modelfile, parameters, template, GGUF metadata and capabilities of a model."""
        return self._do(rq.show(model))

    def delete(self, model: str) -> StatusResponse:
        """Remove a local model; `ModelNotFoundError` if there is none of that name."""
        return self._do(rq.delete(model))

    def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy `source` to the new name `destination`; the blobs are shared, not copied."""
        return self._do(rq.copy(source, destination))

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
        return self._progress(rq.pull(model, insecure, stream), stream)

    @overload
    def push(
        self, model: str, *, insecure: bool = ..., stream: Literal[False] = False
    ) -> ProgressResponse: ...
    @overload
    def push(
        self, model: str, *, insecure: bool = ..., stream: Literal[True]
    ) -> ProgressStream: ...
    def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | ProgressStream:
        """Upload a model to its registry (`namespace/model`, signed in with `ollama signin`);
        `stream=True` yields `ProgressResponse`s."""
        return self._progress(rq.push(model, insecure, stream), stream)

    @overload
    def create(
        self, model: str, *, stream: Literal[False] = False, **kw: Unpack[CreateKwargs]
    ) -> ProgressResponse: ...
    @overload
    def create(
        self, model: str, *, stream: Literal[True], **kw: Unpack[CreateKwargs]
    ) -> ProgressStream: ...
    def create(
        self, model: str, *, stream: bool = False, **kw: Any
    ) -> ProgressResponse | ProgressStream:
        """Create a model from structured fields: `from_`, `files`, `adapters`, `template`,
        `license`, `system`, `parameters`, `messages`, `quantize` (as `ollama.Client.create`)."""
        return self._progress(rq.create(model, stream, **kw), stream)

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
        return self._progress(rq.create_from_request(body, stream, model=body.get("from")), stream)

    @overload
    def create_from_modelfile(
        self,
        model: str,
        modelfile: Any,
        *,
        base_dir: PathLike | None = None,
        stream: Literal[False] = False,
    ) -> ProgressResponse: ...
    @overload
    def create_from_modelfile(
        self, model: str, modelfile: Any, *, base_dir: PathLike | None = None, stream: Literal[True]
    ) -> ProgressStream: ...
    def create_from_modelfile(
        self, model: str, modelfile: Any, *, base_dir: PathLike | None = None, stream: bool = False
    ) -> ProgressResponse | ProgressStream:
        """Upload a Modelfile's local files as blobs, then create `model` from it.

        `modelfile` is a `qwenkit.Modelfile`, Modelfile text, or a path to one (relative
        FROM/ADAPTER paths then resolve against its folder unless `base_dir` is given).
        """
        job = blobs.ModelfileJob.of(model, modelfile, base_dir)
        uploaded = {name: self.create_blob(path) for name, path in job.files().items()}
        return self._progress(job.call(uploaded, stream), stream)

    def has_blob(self, digest: str) -> bool:
        """Whether the server already holds the blob (HEAD /api/blobs/<digest>)."""
        return blobs.blob_exists(self._http.head(blobs.blob_path(digest)), digest, self.host)

    def create_blob(self, path: PathLike, *, progress: Progress | None = None) -> str:
        """Upload a file unless the server has it; returns `sha256:<hex>` for `files=`."""
        digest = blobs.file_digest(path)
        if self.has_blob(digest):
            blobs.report_present(path, progress)
        else:
            self._http.request("POST", blobs.blob_path(digest), blobs.file_chunks(path, progress))
        return digest

    # -- inference ---------------------------------------------------------------------

    def embed(
        self, model: str, input: str | Sequence[str], *, truncate: bool | None = None,
        options: OptionsLike | None = None, keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> EmbedResponse:  # fmt: skip
        """One embedding vector per input (`/api/embed`)."""
        return self._do(rq.embed(model, input, truncate, options, keep_alive, dimensions))

    def embeddings(
        self, model: str, prompt: str | None = None, options: OptionsLike | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbeddingsResponse:  # fmt: skip
        """One vector for one prompt (the older `/api/embeddings`; `embed` supersedes it)."""
        return self._do(rq.embeddings(model, prompt, options, keep_alive))

    # -- Ollama's hosted web API (ollama.com) --------------------------------------------

    def web_search(self, query: str, max_results: int = 3) -> WebSearchResponse:
        """Search the web through ollama.com (needs `OLLAMA_API_KEY` or a bearer header)."""
        return self._do(rq.web_search(query, max_results, self._http.headers))

    def web_fetch(self, url: str) -> WebFetchResponse:
        """A web page's title, text and links, fetched by ollama.com (bearer auth as above)."""
        return self._do(rq.web_fetch(url, self._http.headers))

    @overload
    def generate(
        self,
        model: str,
        prompt: str | None = None,
        *,
        stream: Literal[False] = False,
        **kw: Unpack[GenerateKwargs],
    ) -> GenerateResponse: ...
    @overload
    def generate(
        self,
        model: str,
        prompt: str | None = None,
        *,
        stream: Literal[True],
        **kw: Unpack[GenerateKwargs],
    ) -> GenerateStream: ...
    def generate(
        self, model: str, prompt: str | None = None, *, stream: bool = False, **kw: Any
    ) -> GenerateResponse | GenerateStream:
        """Raw completion (`/api/generate`); `stream=True` yields `GenerateChunk`s."""
        call = rq.generate(model, prompt, stream, **kw)
        return streams.generate_stream(self._lines(call), self.host) if stream else self._do(call)

    @overload
    def chat(
        self,
        model: str,
        messages: Messages = None,
        *,
        stream: Literal[False] = False,
        **kw: Unpack[ChatKwargs],
    ) -> ChatResponse: ...
    @overload
    def chat(
        self,
        model: str,
        messages: Messages = None,
        *,
        stream: Literal[True],
        **kw: Unpack[ChatKwargs],
    ) -> ChatStream: ...
    @overload
    def chat(
        self,
        model: str,
        messages: Messages = None,
        *,
        stream: bool,
        **kw: Unpack[ChatKwargs],
    ) -> ChatResponse | ChatStream: ...
    def chat(
        self, model: str, messages: Messages = None, *, stream: bool = False,
        **kw: Any,
    ) -> ChatResponse | ChatStream:  # fmt: skip
        """Chat (`/api/chat`); `stream=True` yields `ChatChunk`s and `.final()` merges them.

        Keywords as in `ollama.Client.chat` (`tools`, `format`, `options`, `keep_alive`,
        `think`, `logprobs`, `top_logprobs`), plus `response_model=` (validated into
        `.parsed`, re-asked up to `max_retries=2` times) and `run_tools=True` (runs the tools,
        at most `max_tool_rounds=8` rounds; the transcript is in `.messages`).
        """
        step = flows.chat_step(model, messages, stream, kw)
        if isinstance(step, flows.ChatPlan):
            flow = step.flow(sync=True)
            return (
                flows.stream_flow(flow, self._chat_stream)
                if stream
                else flows.drive(flow, self._chat_once)
            )
        return streams.chat_stream(self._lines(step), self.host) if stream else self._do(step)

    def _chat_once(self, request: ChatRequest) -> ChatResponse:
        return self._do(rq.chat(request))

    def _chat_stream(self, request: ChatRequest) -> ChatStream:
        return streams.chat_stream(self._lines(rq.chat(request)), self.host)


__all__ = ["AsyncClient", "Client"]
