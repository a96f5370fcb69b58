"""`OpenAIClient` / `AsyncOpenAIClient`: the same `chat()` against any OpenAI-compatible server.

vLLM (`qwenkit deploy vllm`), Ollama's own `/v1`, llama.cpp's server: `chat(model, messages,
stream=, response_model=, tools=, run_tools=, options=)` takes the same arguments and returns
the same `ChatResponse` / `ChatStream` as `Client.chat`, through the same flows (structured
re-ask, checked tool loop) and the same error tree. Only the wire differs, translated in
`_openai_wire`; so a script moves from a laptop's Ollama to the team's vLLM by changing the
client it opens (`qwenkit.connect(url)` picks it from the URL):

```python
with qwenkit.OpenAIClient("http://gpu-box:8000/v1", api_key=key) as client:
    reply = client.chat("qwen2.5-7b-instruct", messages, response_model=City)
```

The key comes from `api_key=`, else `VLLM_API_KEY`, else `OPENAI_API_KEY`; it is sent as a
bearer token and never logged (`OLLAMA_API_KEY` is not sent to this server).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import to_json
from typing_extensions import overload  # registered for get_overloads on Python 3.10 too

from .._common.config import openai_base
from .._request_models import ChatRequest
from ..errors import ModelNotFoundError, ProtocolError, ResponseError
from ..types import ChatResponse, ListModel, ListResponse
from ._client import Client
from ._flow import ChatKwargs, adrive, astream_flow, drive, plan_chat, stream_flow
from ._openai_wire import SseChat, chat_response, openai_body
from ._requests import MessageLike
from ._streaming import AsyncChatStream, ChatAccumulator, ChatStream, _Box, atyped, typed
from ._transport import DEFAULT_TIMEOUT, AsyncTransport, SyncTransport, _error_message

if TYPE_CHECKING:
    import httpx
    from typing_extensions import Unpack

Messages = Sequence[MessageLike] | None

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
SERVER = "the OpenAI-compatible server"
KEY_VARIABLES = ("VLLM_API_KEY", "OPENAI_API_KEY")


def openai_base_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The API base: `url`, else `OPENAI_BASE_URL`, else vLLM's default (`/v1` added when the
    URL has no path).

    >>> openai_base_url("http://gpu-box:8000")
    'http://gpu-box:8000/v1'
    """
    environ = os.environ if env is None else env
    return openai_base(url or environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)


def api_key_header(api_key: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if env is None else env
    key = api_key or next((environ[k] for k in KEY_VARIABLES if environ.get(k)), None)
    return {"Authorization": f"Bearer {key.strip()}"} if key else {}


def openai_status_error(status: int, body: bytes, host: str, model: str | None) -> ResponseError:
    """An HTTP error from an OpenAI-compatible server, in the shared error tree."""
    message = _error_message(body) or f"HTTP {status}"
    if status == 404 and model is not None:
        err = ModelNotFoundError(message, model, host=host)
        err.hint = (
            f"GET {host}/models lists the names the server serves (vLLM: --served-model-name)"
        )
        return err
    hint = None
    if status == 401:
        hint = "pass api_key= (or set VLLM_API_KEY); `qwenkit deploy vllm` keeps it in vllm.env"
    elif status == 404:
        hint = "is base_url an OpenAI-compatible API ending in /v1?"
    return ResponseError(message, status, host=host, hint=hint)


class _Wire:
    """What the sync and async transports add for OpenAI servers: names and error bodies."""

    server: str | None = SERVER
    unavailable_hint: str | None = (
        "start the server (for vLLM: `docker compose up -d` with the files of `qwenkit deploy "
        "vllm`), or pass its /v1 URL as base_url"
    )

    host: str
    headers: httpx.Headers

    def _status(
        self, response: httpx.Response, body: bytes, path: str, model: str | None
    ) -> ResponseError:
        return openai_status_error(response.status_code, body, self.host, model)

    def _own_auth(self, key_header: Mapping[str, str]) -> None:
        self.headers.pop("Authorization", None)  # never OLLAMA_API_KEY to another server
        self.headers.update(key_header)
        self.headers["Accept"] = "application/json, text/event-stream"


class _SyncWire(_Wire, SyncTransport):
    pass


class _AsyncWire(_Wire, AsyncTransport):
    pass


def _encode(request: ChatRequest) -> bytes:
    return to_json(openai_body(request))


class OpenAIClient:
    """A blocking client for an OpenAI-compatible server with `Client.chat`'s call shape.

    `base_url` is the API root (`http://host:8000/v1`); `timeout`, `headers` and `transport`
    work as for `Client`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = _SyncWire(
            openai_base_url(base_url), timeout=timeout, headers=headers, transport=transport
        )
        self._http._own_auth(api_key_header(api_key))

    @property
    def host(self) -> str:
        """The API base URL, e.g. `http://127.0.0.1:8000/v1`."""
        return self._http.host

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list(self) -> ListResponse:
        """The served model names (`GET /models`), shaped like `Client.list()`."""
        return _models(self._http.request("GET", "/models"), self.host)

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
        """`Client.chat` against `/chat/completions` (see the module docstring)."""
        plan = plan_chat(model, messages, stream, **kw)
        if plan.simple:
            return self._chat_stream(plan.first) if stream else self._chat_once(plan.first)
        flow = plan.flow(sync=True)
        return stream_flow(flow, self._chat_stream) if stream else drive(flow, self._chat_once)

    def _chat_once(self, request: ChatRequest) -> ChatResponse:
        body = self._http.request(
            "POST", "/chat/completions", _encode(request), model=request.model
        )
        return chat_response(body, self.host)

    def _chat_stream(self, request: ChatRequest) -> ChatStream:
        lines = self._http.lines("POST", "/chat/completions", _encode(request), model=request.model)
        box: _Box[ChatResponse] = _Box()
        chunks = typed(lines, SseChat(self.host), self.host, ChatAccumulator(), box, SERVER)
        return ChatStream(chunks, box)


class AsyncOpenAIClient:
    """`OpenAIClient` for asyncio/trio; async tools are awaited inside the tool loop."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = _AsyncWire(
            openai_base_url(base_url), timeout=timeout, headers=headers, transport=transport
        )
        self._http._own_auth(api_key_header(api_key))

    @property
    def host(self) -> str:
        return self._http.host

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncOpenAIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def list(self) -> ListResponse:
        return _models(await self._http.request("GET", "/models"), self.host)

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
        """`OpenAIClient.chat`, awaited."""
        plan = plan_chat(model, messages, stream, **kw)
        if plan.simple:
            return self._chat_stream(plan.first) if stream else await self._chat_once(plan.first)
        flow = plan.flow(sync=False)
        if stream:
            return astream_flow(flow, self._chat_stream)
        return await adrive(flow, self._chat_once)

    async def _chat_once(self, request: ChatRequest) -> ChatResponse:
        body = await self._http.request(
            "POST", "/chat/completions", _encode(request), model=request.model
        )
        return chat_response(body, self.host)

    def _chat_stream(self, request: ChatRequest) -> AsyncChatStream:
        lines = self._http.lines("POST", "/chat/completions", _encode(request), model=request.model)
        box: _Box[ChatResponse] = _Box()
        chunks = atyped(lines, SseChat(self.host), self.host, ChatAccumulator(), box, SERVER)
        return AsyncChatStream(chunks, box)


def _models(body: bytes, host: str) -> ListResponse:
    try:
        data = json.loads(body)["data"]
        return ListResponse(models=[ListModel(model=m["id"], name=m["id"]) for m in data])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"{host}/models did not answer a model list ({exc!r})") from None


def connect(
    url: str | None = None, *, api_key: str | None = None, **kw: Any
) -> Client | OpenAIClient:
    """A client for `url`: `OpenAIClient` when the URL ends in `/v1`, else Ollama's `Client`.

    So moving a script from Ollama to vLLM changes one argument:
    `qwenkit.connect()` (OLLAMA_HOST) → `qwenkit.connect("http://gpu-box:8000/v1", api_key=k)`.
    """
    if url is not None and url.strip().rstrip("/").endswith("/v1"):
        return OpenAIClient(url, api_key=api_key, **kw)
    return Client(url, **kw)


__all__ = ["AsyncOpenAIClient", "OpenAIClient", "connect", "openai_base_url"]
