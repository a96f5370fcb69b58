"""HTTP to Ollama, and the one place where failures become qwenkit errors.

This is the only module that imports httpx. Streaming and non-streaming calls, sync and async,
all route their failures through the same three functions, so one failure raises one class:

| failure                                              | raised                            |
| ---------------------------------------------------- | --------------------------------- |
| nothing listening, DNS failure, refused, bad scheme  | `OllamaUnavailableError`          |
| connect / read / write / pool timeout                | `OllamaTimeoutError` (`.phase`)   |
| HTTP status >= 400                                   | `ResponseError` (`.status_code`)  |
| 404 on a call that names a model                     | `ModelNotFoundError`              |
| 400 "does not support tools/thinking", 501 embeddings | `CapabilityError` (`.capability`) |
| `{"error": ...}` line inside a 200 stream            | `ResponseError(status_code=200)`  |
| body or stream line that is not the JSON expected    | `ProtocolError`                   |
| connection dropped after the response started        | `ProtocolError` (server was there)|
| stream closed before its final line                  | `ProtocolError` (in `_streaming`) |

A drop *before* any response is `OllamaUnavailableError`; a drop *during* a body is
`ProtocolError`. Both are `OllamaError`s distinct from `ResponseError`, so a caller may retry
them (a re-issued pull resumes) while an answer from Ollama is not retried.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from functools import cache
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator

from .. import __version__
from .._common.config import auth_headers
from ..errors import (
    CapabilityError,
    ModelNotFoundError,
    OllamaTimeoutError,
    OllamaUnavailableError,
    ProtocolError,
    ResponseError,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

#: Fail fast when nothing listens; never cut a long generation unless asked.
DEFAULT_TIMEOUT = httpx.Timeout(None, connect=5.0)

_TIMEOUT_PHASES: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


# --------------------------------------------------------------------------- error mapping


def transport_error(
    exc: Exception,
    host: str,
    *,
    started: bool,
    timeout: httpx.Timeout,
    server: str | None = None,
    unavailable_hint: str | None = None,
) -> Exception:
    """Translate an httpx exception; `started` says whether a response had begun.

    `server` names the other side when it is not Ollama (`OpenAIClient`)."""
    if isinstance(exc, httpx.TimeoutException):
        phase = _TIMEOUT_PHASES.get(type(exc), "read")
        limit = getattr(timeout, phase, None)
        return OllamaTimeoutError(host, phase=phase, timeout=limit, server=server or "Ollama")
    detail = str(exc) or type(exc).__name__
    if started:
        return ProtocolError(
            f"connection to {server or 'Ollama'} at {host} dropped mid-response ({detail})",
            host=host,
            hint="the server may have restarted or crashed; retry the call",
        )
    if isinstance(exc, (httpx.TransportError, httpx.InvalidURL)):
        return OllamaUnavailableError(host, detail=detail, server=server, hint=unavailable_hint)
    return ProtocolError(f"unexpected HTTP failure talking to {host}: {detail}", host=host)


def status_error(status: int, body: bytes, host: str, *, model: str | None) -> ResponseError:
    """`ResponseError` from an HTTP error, with Ollama's `{"error": ...}` message when present.

    >>> str(status_error(400, b'{"error":"model is required"}', "h", model=None))
    'model is required (status code: 400)'
    >>> type(status_error(404, b'{"error":"model \\'x\\' not found"}', "h", model="x")).__name__
    'ModelNotFoundError'
    """
    message = _error_message(body) or f"HTTP {status}"
    if status == 404 and model is not None:
        return ModelNotFoundError(message, model, host=host)
    capability = _missing_capability(status, message)
    if capability is not None:
        if status == 501:  # llama-server's own words, which name its command-line flag
            message = f"{model or 'the model'} does not support {capability} ({message})"
        advice = _CAPABILITY_HINTS.get(capability, _OTHER_CAPABILITY)
        hint = advice.format(model=model or "the model")
        return CapabilityError(message, status, capability, model=model, host=host, hint=hint)
    if status in (404, 405):
        return ResponseError(message, status, host=host, hint=NOT_OLLAMA)
    return ResponseError(message, status, host=host)


NOT_OLLAMA = "is this an Ollama server? check OLLAMA_HOST"
#: Observed on Ollama 0.32.15: 400 `<full name> does not support tools` (the template does not
#: use `.Tools`), 400 `"<name>" does not support thinking`, and 501 with llama-server's
#: `This server does not support embeddings. ...` from `/api/embed` on a chat model.
_UNSUPPORTED = re.compile(r"does not support (\w+)")
_CAPABILITY_HINTS = {
    "tools": (
        "the model's TEMPLATE has no tools section (`.Tools`); use qwenkit's `agent` variant "
        "(`qwenkit-agent`, created by `qwenkit setup`), whose template has one"
    ),
    "thinking": "Qwen2.5 has no thinking mode; leave out `think=`",
    "embedding": (
        "{model} is a chat model without embeddings; use an embedding model, "
        "e.g. `ollama pull nomic-embed-text`"
    ),
}
_OTHER_CAPABILITY = "`Client().show(model).capabilities` lists what {model} can do"


def _missing_capability(status: int, message: str) -> str | None:
    """The capability a 400/501 answer says the model lacks (`embeddings` -> `embedding`,
    Ollama's capability name), or None for any other error.

    >>> _missing_capability(400, 'registry.ollama.ai/library/x:latest does not support tools')
    'tools'
    >>> _missing_capability(501, "This server does not support embeddings. Start it with ...")
    'embedding'
    """
    found = _UNSUPPORTED.search(message) if status in (400, 501) else None
    if found is None:
        return None
    return "embedding" if found.group(1) == "embeddings" else found.group(1)


def _error_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(data, dict) and "error" in data:
        error = data["error"]  # Ollama: a string; OpenAI-compatible servers: an object
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        return str(error)
    if isinstance(data, dict) and data.get("object") == "error" and "message" in data:
        return str(data["message"])  # vLLM ≤ 0.10's flat error body
    return text[:500]


@cache
def validator(cls: type[BaseModel]) -> SchemaValidator:
    """The model's pydantic-core validator, built now if the model was deferred. Calling it
    directly skips `model_validate*`'s argument handling (a microsecond, once per call)."""
    cls.model_rebuild()  # public API; a no-op once built
    return cls.__pydantic_validator__  # type: ignore[return-value]


def parse_body(cls: type[M], body: bytes, host: str) -> M:
    """A whole JSON response as `cls`; anything else is a `ProtocolError`."""
    try:
        parsed: M = validator(cls).validate_json(body or b"{}")
        return parsed
    except ValidationError as err:
        raise ProtocolError(
            f"Ollama at {host} sent a response that is not a valid {cls.__name__}: {_short(err)}",
            host=host,
        ) from None


class ErrorLine(Exception):
    """Raised by a stream-line validator that met an `{"error": ...}` object (it has no host;
    the stream turns it into `ResponseError(status_code=200)` with `line_error`)."""


def line_error(line: bytes, err: Exception, host: str) -> ResponseError | ProtocolError:
    """The error for a stream line that did not validate, or was an `{"error": ...}` object."""
    if isinstance(err, ErrorLine):
        return ResponseError(str(err.args[0]), 200, host=host)
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if isinstance(data, dict) and "error" in data:  # an error line that failed validation
        return ResponseError(str(data["error"]), 200, host=host)
    detail = _short(err) if isinstance(err, ValidationError) else str(err)
    return ProtocolError(
        f"malformed stream line from Ollama at {host}: {detail}",
        host=host,
        hint="the stream was cut or the server is not Ollama",
    )


def _short(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    return f"{first['msg']} at {'.'.join(map(str, first['loc'])) or 'top level'}"


# --------------------------------------------------------------------------- NDJSON framing


def _is_raw(response: httpx.Response) -> bool:
    """Unread and without content coding: the raw bytes are the body, so httpx's decoding layer
    can be skipped (one generator less per token). A gzipping proxy still works (`iter_bytes`)."""
    coding: str = response.headers.get("content-encoding", "identity")
    return coding == "identity" and not response.is_stream_consumed


# --------------------------------------------------------------------------- transports


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """A number applies to every phase (the caller asked for it); `None` means no limits."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout)


def default_headers(extra: Mapping[str, str] | None) -> httpx.Headers:
    """The caller's headers over a user agent and bearer auth from `OLLAMA_API_KEY`; JSON in
    and out always (a caller's `Content-Type` would make Ollama misread the body, so, as in
    the `ollama` client, it cannot be replaced). Names are case-insensitive, so a caller's
    `authorization` replaces the environment's key instead of being sent beside it."""
    headers = httpx.Headers({"User-Agent": f"qwenkit/{__version__}", **auth_headers()})
    headers.update(extra or {})
    headers.update({"Content-Type": "application/json", "Accept": "application/json"})
    return headers


class _Base(Generic[H]):
    """What both transports share: settings, the lazily built httpx client, error mapping.

    `options` are more keyword arguments for `httpx.Client`/`AsyncClient` (`verify=`,
    `cert=`, `proxy=`, `follow_redirects=` (default True), ...), as the `ollama` client takes."""

    server: str | None = None  # how errors name the other side (None: Ollama)
    unavailable_hint: str | None = None  # None: how to start Ollama

    def __init__(
        self,
        host: str,
        *,
        timeout: float | httpx.Timeout | None,
        headers: Mapping[str, str] | None,
        transport: Any,
        **options: Any,
    ) -> None:
        self.host = host
        self.timeout = make_timeout(timeout)
        self.headers = default_headers(headers)
        self._transport = transport
        self._options = {"follow_redirects": True, **options}
        self._client: H | None = None

    def _make_client(self, cls: type[H]) -> H:
        """Built on first use, so a `Client()` that never calls costs no SSL context."""
        if self._client is None:
            self._client = cls(
                base_url=self.host,
                timeout=self.timeout,
                headers=self.headers,
                transport=self._transport,
                **self._options,
            )
        return self._client

    def _where(self, path: str) -> str:
        """The server a failure is about: ours, or the one an absolute URL names (the hosted
        web API of `web_search`)."""
        if "://" not in path:
            return self.host
        url = httpx.URL(path)
        return f"{url.scheme}://{url.netloc.decode('ascii')}"

    def _fail(self, exc: Exception, path: str, *, started: bool) -> Exception:
        where = self._where(path)
        theirs = where == self.host
        return transport_error(
            exc,
            where,
            started=started,
            timeout=self.timeout,
            server=self.server if theirs else "Ollama's web API",
            unavailable_hint=self.unavailable_hint if theirs else None,
        )

    def _status(
        self, response: httpx.Response, body: bytes, path: str, model: str | None
    ) -> ResponseError:
        return status_error(response.status_code, body, self._where(path), model=model)


class SyncTransport(_Base[httpx.Client]):
    """Blocking HTTP."""

    def __init__(
        self,
        host: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(host, timeout=timeout, headers=headers, transport=transport, **options)

    @property
    def client(self) -> httpx.Client:
        return self._make_client(httpx.Client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        *,
        model: str | None = None,
    ) -> bytes:
        """Send one request (an iterable body streams) and return the whole answer."""
        try:
            response = self.client.request(method, path, content=body)
        except httpx.HTTPError as exc:
            raise self._fail(exc, path, started=False) from exc
        if response.status_code >= 400:
            raise self._status(response, response.content, path, model)
        return response.content

    def head(self, path: str) -> int:
        """The status of a HEAD request (no error mapping for 404: it is an answer here)."""
        try:
            return self.client.head(path).status_code
        except httpx.HTTPError as exc:
            raise self._fail(exc, path, started=False) from exc

    def lines(
        self, method: str, path: str, body: bytes | None = None, *, model: str | None = None
    ) -> Iterator[bytes]:
        """NDJSON lines of a streamed response; the response closes when this generator does."""
        started = False
        try:
            with self.client.stream(method, path, content=body) as response:
                if response.status_code >= 400:
                    raise self._status(response, response.read(), path, model)
                started = True
                chunks = response.iter_raw() if _is_raw(response) else response.iter_bytes()
                tail = b""  # NDJSON framing, inline: this loop runs once per token
                for chunk in chunks:
                    if tail:
                        chunk = tail + chunk
                    *lines, tail = chunk.split(b"\n")
                    for line in lines:
                        if line and not line.isspace():
                            yield line
                if tail.strip():
                    yield tail
        except httpx.HTTPError as exc:
            raise self._fail(exc, path, started=started) from exc


class AsyncTransport(_Base[httpx.AsyncClient]):
    """`SyncTransport` for asyncio/trio, with the same error mapping."""

    def __init__(
        self,
        host: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(host, timeout=timeout, headers=headers, transport=transport, **options)

    @property
    def client(self) -> httpx.AsyncClient:
        return self._make_client(httpx.AsyncClient)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | AsyncIterable[bytes] | None = None,
        *,
        model: str | None = None,
    ) -> bytes:
        try:
            response = await self.client.request(method, path, content=body)
        except httpx.HTTPError as exc:
            raise self._fail(exc, path, started=False) from exc
        if response.status_code >= 400:
            raise self._status(response, response.content, path, model)
        return response.content

    async def head(self, path: str) -> int:
        try:
            return (await self.client.head(path)).status_code
        except httpx.HTTPError as exc:
            raise self._fail(exc, path, started=False) from exc

    async def lines(
        self, method: str, path: str, body: bytes | None = None, *, model: str | None = None
    ) -> AsyncIterator[bytes]:
        started = False
        try:
            async with self.client.stream(method, path, content=body) as response:
                if response.status_code >= 400:
                    raise self._status(response, await response.aread(), path, model)
                started = True
                raw = _is_raw(response)
                chunks = response.aiter_raw() if raw else response.aiter_bytes()
                tail = b""  # the same framing as `SyncTransport.lines`
                async for chunk in chunks:
                    if tail:
                        chunk = tail + chunk
                    *lines, tail = chunk.split(b"\n")
                    for line in lines:
                        if line and not line.isspace():
                            yield line
                if tail.strip():
                    yield tail
        except httpx.HTTPError as exc:
            raise self._fail(exc, path, started=started) from exc


__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncTransport",
    "ErrorLine",
    "SyncTransport",
    "line_error",
    "parse_body",
    "status_error",
    "transport_error",
    "validator",
]
