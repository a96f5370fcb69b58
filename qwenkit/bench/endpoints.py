"""How one benchmark request is sent and timed: Ollama's native `/api/chat`.

An endpoint streams one answer and writes into its `Sample`: the time of every piece of
text as it arrives (client side) and, where the server reports them, its own durations.
The loop runs once per token, so it does nothing but read the clock and the text: it reads
the client's transport (same HTTP, same error mapping) and its line validator, without the
stream object and the accumulator that would merge text the benchmark never looks at.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from ..client import AsyncClient
from ..client._chunks import chat_chunk
from ..client._transport import DEFAULT_TIMEOUT, AsyncTransport, ErrorLine, line_error
from ..errors import IncompleteAnswerError
from .result import NS, Sample

Clock = Callable[[], float]


class Endpoint(Protocol):
    """A server that streams chat answers; `api` names it in the report."""

    api: str
    server_timings: bool

    async def stream(self, sample: Sample, prompt: str, max_tokens: int, now: Clock) -> None:
        """Send `prompt`, time the answer into `sample` by `now` (a monotonic clock, read
        once a piece of text); raise `QwenkitError` on failure."""
        ...

    def lane(self) -> Endpoint:
        """The same server through a client of its own: one per concurrent stream, so each
        stream keeps its connection and no request pays for a shared pool's bookkeeping
        (httpcore scans every pooled connection per request: at 64 streams that tripled
        the client's CPU per token)."""
        ...

    async def aclose(self) -> None: ...


def connection_options() -> dict[str, Any]:
    """httpx options for one lane's client: the TLS context every lane shares, built once
    (httpx would load the CA store again for each client, ~20 ms of CPU)."""
    return {"verify": httpx.create_ssl_context()}


def messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


class OllamaEndpoint:
    """`/api/chat` with `num_predict` = the output length; Ollama's durations come back."""

    api = "ollama"
    server_timings = True

    def __init__(
        self,
        host: str,
        model: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        options: dict[str, Any] | None = None,
        connection: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.options = dict(options or {})
        self._transport = transport
        self._connection = connection or ({} if transport else connection_options())
        self.client = AsyncClient(host, transport=transport, **self._connection)  # the rest
        self._http = AsyncTransport(
            self.client.host, timeout=DEFAULT_TIMEOUT, transport=transport, **self._connection
        )

    def lane(self) -> OllamaEndpoint:
        return OllamaEndpoint(
            self.client.host,
            self.model,
            transport=self._transport,
            options=self.options,
            connection=self._connection,
        )

    async def stream(self, sample: Sample, prompt: str, max_tokens: int, now: Clock) -> None:
        options = {**self.options, "num_predict": max_tokens}
        request = {"model": self.model, "messages": messages(prompt), "options": options}
        body = json.dumps({**request, "stream": True}).encode()
        validate, host = chat_chunk(), self._http.host
        gaps = sample.itl
        last = final = None
        async for line in self._http.lines("POST", "/api/chat", body, model=self.model):
            at = now()
            try:
                chunk = validate(line)
            except (ValidationError, ErrorLine) as err:
                raise line_error(line, err, host) from None
            if chunk["message"].get("content"):
                if last is None:
                    sample.first_token = at
                else:
                    gaps.append(at - last)
                last = at
            if chunk.get("done"):
                final = chunk  # the last line; reading on releases the connection
        sample.end = now()
        sample.last_token = last
        sample.chunks = len(gaps) + (last is not None)
        if final is None:
            raise IncompleteAnswerError(host, pieces=sample.chunks)
        _server_times(sample, final)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.client.aclose()


def _server_times(sample: Sample, final: Any) -> None:
    """Ollama's counts and nanosecond durations from the `done` line (omitted when 0)."""
    sample.output_tokens = final.eval_count
    sample.prompt_tokens = final.prompt_eval_count
    sample.load_s = final.load_duration / NS
    sample.prompt_eval_s = final.prompt_eval_duration / NS
    sample.eval_s = final.eval_duration / NS
    sample.total_s = final.total_duration / NS


__all__ = ["Clock", "Endpoint", "OllamaEndpoint", "connection_options", "messages"]
