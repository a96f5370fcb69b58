"""`--openai URL`: the same load against any OpenAI-compatible server (vLLM, llama.cpp's
server, Ollama's `/v1`), timed on the client only.

Such servers stream Server-Sent Events (`data: {...}` lines, then `data: [DONE]`) and report
no durations, so only client-side times exist; token counts come from the `usage` object when
the server sends one (`stream_options.include_usage`), else one token per streamed piece.
The HTTP and its error mapping are qwenkit's transport, the same as for Ollama.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._common.config import auth_headers
from .._common.config import openai_base as parse_openai_base
from ..client._transport import DEFAULT_TIMEOUT, AsyncTransport
from ..errors import OllamaUnavailableError, ProtocolError, ResponseError
from .endpoints import Clock, connection_options, messages
from .result import Sample

if TYPE_CHECKING:
    import httpx


def openai_base(url: str) -> str:
    """The `--openai` URL as an API base (`/v1` added when no path is given).

    >>> openai_base("localhost:8000")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    qwenkit.errors.InvalidRequestError: --openai needs an http:// or https:// URL, got ...
    """
    return parse_openai_base(url, what="--openai")


class OpenAIEndpoint:
    """`POST {base}/chat/completions` with `stream: true` and `max_tokens`."""

    api = "openai"
    server_timings = False

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        connection: dict[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self._transport = transport
        self._connection = connection or ({} if transport else connection_options())
        headers = auth_headers() or {}
        self._http = AsyncTransport(
            base_url,
            timeout=DEFAULT_TIMEOUT,
            headers=headers,
            transport=transport,
            **self._connection,
        )

    def lane(self) -> OpenAIEndpoint:
        return OpenAIEndpoint(
            self.base_url, self.model, transport=self._transport, connection=self._connection
        )

    async def check(self) -> None:
        """Fail early, with the right words, when nothing answers at the URL."""
        try:
            await self._http.request("GET", "/models")
        except OllamaUnavailableError as err:
            raise OllamaUnavailableError(
                self.base_url,
                detail=err.detail,
                server="an OpenAI-compatible server",
                hint="start the server, or check the --openai URL (it usually ends in /v1)",
            ) from err
        except ResponseError:
            pass  # some servers have no /models; the chat request will tell

    async def stream(self, sample: Sample, prompt: str, max_tokens: int, now: Clock) -> None:
        body = json.dumps(
            {
                "model": self.model,
                "messages": messages(prompt),
                "stream": True,
                "max_tokens": max_tokens,
                "stream_options": {"include_usage": True},
            }
        ).encode()
        gaps = sample.itl
        last = None
        async for line in self._http.lines("POST", "/chat/completions", body, model=self.model):
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            at = now()
            event = self._parse(data)
            if any((c.get("delta") or {}).get("content") for c in event.get("choices") or ()):
                if last is None:
                    sample.first_token = at
                else:
                    gaps.append(at - last)
                last = at
            if usage := event.get("usage"):
                sample.output_tokens = usage.get("completion_tokens")
                sample.prompt_tokens = usage.get("prompt_tokens")
        sample.end = now()
        sample.last_token = last
        sample.chunks = len(gaps) + (last is not None)

    def _parse(self, data: bytes) -> dict[str, Any]:
        try:
            event = json.loads(data)
        except ValueError:
            raise ProtocolError(
                f"the server at {self.base_url} sent an event that is not JSON: {data[:80]!r}"
            ) from None
        if not isinstance(event, dict):
            raise ProtocolError(f"the server at {self.base_url} sent {data[:80]!r}")
        if error := event.get("error"):
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise ResponseError(str(message), 200, host=self.base_url)
        return event

    async def aclose(self) -> None:
        await self._http.aclose()


__all__ = ["OpenAIEndpoint", "openai_base"]
