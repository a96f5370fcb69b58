"""The HTTP layer: read a request, route it, and write JSON or NDJSON the way Go does."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import routes
from .faults import DEFAULT_STATUS_TEXT
from .protocol import NDJSON_TYPE, Body, Drop, HttpError, Pause, Stream, StreamError
from .state import Headers, Recorded, State
from .wire import go_json


class FakeServer(ThreadingHTTPServer):
    """A threading server that knows its state and its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        self.state = state
        self.connections: set[socket.socket] = set()
        super().__init__(address, Handler)

    def drop_connections(self) -> None:
        """Reset every open connection (used when the fake 'goes down')."""
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ClientGone(Exception):
    """The client closed the connection while we were writing."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer
    _started = False

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in state instead."""

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, Nagle + delayed ACK
        # add ~40 ms to every response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        self._started = False
        path = urlsplit(self.path).path
        raw = self._read_body()
        payload = _decode(raw) if raw and not path.startswith("/api/blobs/") else None
        state = self.server.state
        if not path.startswith("/_fake/"):
            recorded = Recorded(method, self.path, payload, Headers(self.headers.items()))
            state.record(recorded)
        try:
            fault = state.faults.status_for(path)
            if fault is not None:
                message = fault.message or DEFAULT_STATUS_TEXT.get(fault.code, "error")
                raise HttpError(fault.code, message)
            response = routes.route(state, method, path, raw, payload)
        except HttpError as exc:
            response = Body(exc.status, {"error": exc.message})
        try:
            if isinstance(response, Stream):
                with state.slot():
                    self._send_stream(response)
            else:
                self._send_body(response, head=method == "HEAD")
        except (ClientGone, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_body(self, response: Body, *, head: bool = False) -> None:
        if response.body is None:
            data = b""
        elif isinstance(response.body, str):
            data = response.body.encode()
        else:
            data = go_json(response.body).encode()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _begin_chunked(self) -> None:
        self._started = True
        self.send_response(200)
        self.send_header("Content-Type", NDJSON_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone from exc

    def _drop(self) -> None:
        """Cut the connection mid-response: no terminating chunk."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send_stream(self, response: Stream) -> None:
        if not response.stream:
            self._send_collected(response)
            return
        events = response.events
        try:
            for event in events:
                if isinstance(event, Pause):
                    time.sleep(event.seconds)
                elif isinstance(event, Drop):
                    if not self._started:
                        self._begin_chunked()
                    self._drop()
                    return
                elif isinstance(event, StreamError):
                    if not self._started:  # Go sets "application/json" before c.JSON
                        body = Body(event.status, {"error": event.message}, "application/json")
                        self._send_body(body)
                        return
                    self._write_chunk(go_json({"error": event.message}).encode() + b"\n")
                    break
                else:
                    if not self._started:
                        self._begin_chunked()
                    self._write_chunk(go_json(event).encode() + b"\n")
        finally:
            events.close() if hasattr(events, "close") else None
        if not self._started:
            self._begin_chunked()
        self._write_chunk(b"")

    def _send_collected(self, response: Stream) -> None:
        objects: list[dict[str, Any]] = []
        for event in response.events:
            if isinstance(event, Pause):
                time.sleep(event.seconds)
            elif isinstance(event, Drop):
                self._drop()
                return
            elif isinstance(event, StreamError):
                self._send_body(Body(event.status, {"error": event.message}))
                return
            else:
                objects.append(event)
        self._send_body(Body(200, response.collect(objects)))


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return routes.InvalidJSON(str(exc))
