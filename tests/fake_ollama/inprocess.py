"""The fake without a socket: an `httpx.AsyncBaseTransport` over the same routes and state.

Streams honour the same `Pause` events with `asyncio.sleep`, and `Config.slots` with an
`asyncio.Semaphore`, so on an event loop with a virtual clock a benchmark of scripted token
timings runs in no wall time and measures exactly what was scripted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from . import routes
from .protocol import NDJSON_TYPE, Body, Drop, HttpError, Pause, Stream, StreamError
from .state import Headers, Recorded, State
from .wire import go_json


class AsyncFakeTransport(httpx.AsyncBaseTransport):
    def __init__(self, state: State) -> None:
        self.state = state
        self._slots: asyncio.Semaphore | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        path = request.url.path
        payload = _decode(raw) if raw else None
        self.state.record(
            Recorded(request.method, str(request.url.raw_path, "ascii"), payload,
                     Headers(request.headers.items()))
        )  # fmt: skip
        try:
            fault = self.state.faults.status_for(path)
            if fault is not None:
                raise HttpError(fault.code, fault.message or "error")
            response = routes.route(self.state, request.method, path, raw, payload)
        except HttpError as exc:
            response = Body(exc.status, {"error": exc.message})
        if isinstance(response, Stream):
            headers = {"Content-Type": NDJSON_TYPE}
            return httpx.Response(200, headers=headers, content=self._stream(response))
        body = response.body
        data = body.encode() if isinstance(body, str) else go_json(body).encode()
        if body is None:
            return httpx.Response(response.status)
        headers = {"Content-Type": response.content_type}
        return httpx.Response(response.status, headers=headers, content=data)

    def _slot(self) -> asyncio.Semaphore | contextlib.nullcontext[None]:
        if self.state.config.slots is None:
            return contextlib.nullcontext()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.state.config.slots)
        return self._slots

    async def _stream(self, response: Stream) -> AsyncIterator[bytes]:
        """The answer inside a slot; the slot is freed before the `done` line goes out, as
        a client stops reading there (Ollama frees it when the answer is complete)."""
        final = None
        async with self._slot():
            for event in response.events:
                if isinstance(event, Pause):
                    await asyncio.sleep(event.seconds)
                elif isinstance(event, Drop):
                    raise httpx.RemoteProtocolError("connection dropped by the fake")
                elif isinstance(event, StreamError):
                    final = go_json({"error": event.message}).encode() + b"\n"
                    break
                elif event.get("done"):
                    final = go_json(event).encode() + b"\n"
                    break
                else:
                    yield go_json(event).encode() + b"\n"
        if final is not None:
            yield final


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return routes.InvalidJSON(str(exc))
