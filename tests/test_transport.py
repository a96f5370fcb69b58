"""The error table: one failure, one class — sync or async, streamed or not."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from ollama._client import CONNECTION_ERROR_MESSAGE as OLLAMAS_MESSAGE

from qwenkit import (
    AsyncClient,
    Client,
    ModelNotFoundError,
    OllamaTimeoutError,
    OllamaUnavailableError,
    ProtocolError,
    QwenkitError,
    ResponseError,
)
from qwenkit.client._transport import AsyncTransport, SyncTransport, status_error
from qwenkit.errors import CONNECTION_ERROR_MESSAGE

MODES = ["sync", "sync-stream", "async", "async-stream"]
MESSAGES = [{"role": "user", "content": "hi"}]


def chunk(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "message": {"role": "assistant", "content": content}, **extra}


DONE = chunk("", done=True, done_reason="stop", eval_count=3)


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that yields `parts`, then optionally fails like a dropped socket."""

    def __init__(self, parts: list[bytes], fail: Exception | None = None) -> None:
        self.parts, self.fail = parts, fail
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        if self.fail:
            raise self.fail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part
        if self.fail:
            raise self.fail

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def ndjson(*items: dict[str, Any]) -> list[bytes]:
    return [json.dumps(i).encode() + b"\n" for i in items]


def run(mode: str, handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> Any:
    """One chat call in the given mode; returns the final response."""
    transport = httpx.MockTransport(handler)
    if mode.startswith("sync"):
        client = Client(transport=transport, **kw)
        if mode == "sync-stream":
            return client.chat("m", MESSAGES, stream=True).final()
        return client.chat("m", MESSAGES)

    async def go() -> Any:
        async with AsyncClient(transport=transport, **kw) as client:
            if mode == "async-stream":
                stream = await client.chat("m", MESSAGES, stream=True)
                return await stream.final()
            return await client.chat("m", MESSAGES)

    return asyncio.run(go())


def answer(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content)["stream"]:
        return httpx.Response(200, stream=Body(ndjson(chunk("Hi"), DONE)))
    return httpx.Response(200, json={**DONE, "message": {"role": "assistant", "content": "Hi"}})


@pytest.mark.parametrize("mode", MODES)
def test_happy_path_is_the_same_in_every_mode(mode: str) -> None:
    reply = run(mode, answer)
    assert (reply.message.content, reply.done_reason, reply.eval_count) == ("Hi", "stop", 3)


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def status(code: int, body: bytes) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, content=body)


def stream_of(parts: list[bytes], fail: Exception | None = None) -> Callable[..., httpx.Response]:
    """Streamed in stream mode; the same bytes as one body otherwise."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Body(parts, fail))

    return handler


ERROR_TABLE: list[tuple[str, Callable[..., httpx.Response], type[QwenkitError], str]] = [
    ("refused", raising(httpx.ConnectError("refused")), OllamaUnavailableError, "Failed to conn"),
    ("connect timeout", raising(httpx.ConnectTimeout("slow")), OllamaTimeoutError, "(connect)"),
    ("read timeout", raising(httpx.ReadTimeout("slow")), OllamaTimeoutError, "(read)"),
    ("http 500", status(500, b'{"error":"llama runner crashed"}'), ResponseError, "runner"),
    ("http 400 text", status(400, b"bad things"), ResponseError, "bad things"),
    ("model 404", status(404, b'{"error":"model \'m\' not found"}'), ModelNotFoundError, "'m'"),
    ("503 busy", status(503, b'{"error":"server busy"}'), ResponseError, "server busy"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("case", "handler", "error", "text"), ERROR_TABLE, ids=lambda x: x)
def test_error_table(mode: str, case: str, handler: Any, error: type, text: str) -> None:
    with pytest.raises(error) as info:
        run(mode, handler)
    assert text in str(info.value)
    assert info.value.hint or isinstance(info.value, ResponseError)


@pytest.mark.parametrize("mode", MODES)
def test_refused_is_a_connection_error_with_ollamas_words_and_a_hint_naming_the_host(
    mode: str,
) -> None:
    """Code written for `ollama` catches `ConnectionError` and may compare its text."""
    with pytest.raises(ConnectionError) as info:
        run(mode, raising(httpx.ConnectError("[Errno 111] Connection refused")))
    assert isinstance(info.value, OllamaUnavailableError) and info.value.exit_code == 3
    assert str(info.value) == CONNECTION_ERROR_MESSAGE == OLLAMAS_MESSAGE
    assert info.value.error == str(info.value)
    hint = info.value.hint or ""
    assert "nothing answered at http://" in hint and "Connection refused" in hint
    assert "ollama serve" in hint


@pytest.mark.parametrize("mode", MODES)
def test_http_error_keeps_status_and_message(mode: str) -> None:
    with pytest.raises(ResponseError) as info:
        run(mode, status(500, b'{"error":"option \\"num_ctx\\" must be of type integer"}'))
    assert info.value.status_code == 500
    assert info.value.message == 'option "num_ctx" must be of type integer'


@pytest.mark.parametrize("mode", MODES)
def test_model_not_found_names_the_model_and_the_fix(mode: str) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        run(mode, status(404, b'{"error":"model \'m\' not found"}'))
    assert info.value.model == "m"
    assert "ollama pull m" in (info.value.hint or "")
    assert "qwenkit setup" in (info.value.hint or "")


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream"])
def test_error_line_mid_stream_is_a_response_error_with_200(mode: str) -> None:
    parts = ndjson(chunk("Hel"), {"error": "an error was encountered while running the model"})
    with pytest.raises(ResponseError) as info:
        run(mode, stream_of(parts))
    assert info.value.status_code == 200
    assert "while running the model" in info.value.message


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream"])
@pytest.mark.parametrize(
    ("parts", "fail"),
    [
        (ndjson(chunk("Hel")), None),  # closed before done:true
        ([b'{"model":"m","message":{"role":"assist'], None),  # cut inside a line
        ([b"<html>not ollama</html>\n"], None),  # not JSON at all
        (ndjson(chunk("Hel")), httpx.RemoteProtocolError("peer closed connection")),
        (ndjson(chunk("Hel")), httpx.ReadError("connection reset")),
    ],
    ids=["no-done", "cut-line", "not-json", "peer-closed", "reset"],
)
def test_truncated_or_broken_stream_is_a_protocol_error(
    mode: str, parts: list[bytes], fail: Exception | None
) -> None:
    with pytest.raises(ProtocolError):
        run(mode, stream_of(parts, fail))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_non_json_body_is_a_protocol_error(mode: str) -> None:
    with pytest.raises(ProtocolError):
        run(mode, status(200, b"<html>proxy login</html>"))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", MODES)
def test_nothing_listening_names_the_host_and_how_to_start(mode: str) -> None:
    port = unused_port()
    transport = None  # a real connection attempt
    with pytest.raises(OllamaUnavailableError) as info:
        if mode.startswith("sync"):
            client = Client(f"127.0.0.1:{port}", transport=transport)
            reply = client.chat("m", MESSAGES, stream=mode.endswith("stream"))
            list(reply) if mode.endswith("stream") else None
        else:

            async def go() -> None:
                async with AsyncClient(f"127.0.0.1:{port}") as client:
                    if mode.endswith("stream"):
                        async for _ in await client.chat("m", MESSAGES, stream=True):
                            pass
                    else:
                        await client.chat("m", MESSAGES)

            asyncio.run(go())
    assert str(info.value) == CONNECTION_ERROR_MESSAGE and isinstance(info.value, ConnectionError)
    assert f"nothing answered at http://127.0.0.1:{port}" in (info.value.hint or "")
    assert "ollama serve" in (info.value.hint or "")


class RawServer:
    """A one-shot socket server on loopback that sends `payload` then stalls or hangs up."""

    def __init__(self, payload: bytes, *, stall: float = 0.0) -> None:
        self.payload, self.stall = payload, stall
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(self.payload)
            self.done.wait(self.stall)

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.sock.close()


CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def chunked(line: bytes) -> bytes:
    return f"{len(line):x}\r\n".encode() + line + b"\r\n"


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream"])
def test_real_socket_hang_up_mid_stream_is_a_protocol_error(mode: str) -> None:
    server = RawServer(CHUNKED_HEAD + chunked(ndjson(chunk("Hel"))[0]))
    try:
        with pytest.raises(ProtocolError) as info:
            run_real(mode, server.port)
        assert "dropped" in str(info.value) or "ended" in str(info.value)
    finally:
        server.close()


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream", "sync", "async"])
def test_real_socket_read_timeout_only_when_asked(mode: str) -> None:
    server = RawServer(CHUNKED_HEAD + chunked(ndjson(chunk("Hel"))[0]), stall=5)
    try:
        with pytest.raises(OllamaTimeoutError) as info:
            run_real(mode, server.port, timeout=httpx.Timeout(5, read=0.2))
        assert info.value.phase == "read"
    finally:
        server.close()


def run_real(mode: str, port: int, **kw: Any) -> Any:
    host = f"127.0.0.1:{port}"
    if mode.startswith("sync"):
        client = Client(host, **kw)
        if mode.endswith("stream"):
            return client.chat("m", MESSAGES, stream=True).final()
        return client.chat("m", MESSAGES)

    async def go() -> Any:
        async with AsyncClient(host, **kw) as client:
            if mode.endswith("stream"):
                return await (await client.chat("m", MESSAGES, stream=True)).final()
            return await client.chat("m", MESSAGES)

    return asyncio.run(go())


def test_default_timeout_is_short_connect_and_no_read_limit() -> None:
    client = Client()
    assert client._http.timeout.connect == 5.0
    assert client._http.timeout.read is None
    assert Client(timeout=30)._http.timeout.read == 30


def test_pull_stream_error_line_and_drop_are_distinct_classes() -> None:
    """Setup retries pulls on drops (OllamaError) but not on answers (ResponseError)."""
    progress = {"status": "pulling 2bada8a74506", "digest": "sha256:2b", "total": 10}
    cases = [
        (Body(ndjson(progress, {"error": "max retries exceeded"})), ResponseError),
        (Body(ndjson(progress), httpx.ReadError("reset")), ProtocolError),
        (Body(ndjson(progress)), ProtocolError),  # no "success" line
    ]
    for body, error in cases:
        transport = httpx.MockTransport(lambda r, b=body: httpx.Response(200, stream=b))
        client = Client(transport=transport)
        with pytest.raises(error) as info:
            list(client.pull("qwen2.5:7b-instruct", stream=True))
        assert type(info.value) is error
        assert body.closed


def test_status_error_without_model_is_a_plain_response_error() -> None:
    err = status_error(404, b"404 page not found", "http://h", model=None)
    assert type(err) is ResponseError
    assert err.status_code == 404 and "Ollama server" in (err.hint or "")


def test_ndjson_lines_survive_any_chunking() -> None:
    """The transports frame lines however the bytes arrive (blank lines and CRLF included)."""
    data = b'{"a":1}\n\n{"b":2}\r\n{"c":3}'
    want = [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    for size in range(1, len(data) + 1):
        parts = [data[i : i + size] for i in range(0, len(data), size)]

        def sync_body(request: httpx.Request, parts: list[bytes] = parts) -> httpx.Response:
            return httpx.Response(200, content=iter(parts))

        async def async_parts(parts: list[bytes] = parts) -> Any:
            for part in parts:
                yield part

        def async_body(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=async_parts())

        sync = SyncTransport("http://127.0.0.1:1", transport=httpx.MockTransport(sync_body))
        assert [line.strip() for line in sync.lines("POST", "/api/chat")] == want

        async def read_async() -> list[bytes]:
            mock = httpx.MockTransport(async_body)
            transport = AsyncTransport("http://127.0.0.1:1", transport=mock)
            return [line.strip() async for line in transport.lines("POST", "/api/chat")]

        assert asyncio.run(read_async()) == want


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream"])
def test_gzip_encoded_stream_is_decoded(mode: str) -> None:
    """A proxy may compress the NDJSON; the raw-bytes fast path must not bypass decoding."""
    import gzip

    data = gzip.compress(b"".join(ndjson(chunk("Hel"), chunk("lo"), DONE)))
    parts = [data[i : i + 7] for i in range(0, len(data), 7)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Body(parts))

    reply = run(mode, handler)
    assert (reply.message.content, reply.eval_count) == ("Hello", 3)


def test_deferred_models_build_from_a_shallow_call_stack() -> None:
    """Models are built on first use; that must not depend on how deep the caller is."""
    import subprocess
    import sys

    code = (
        "from qwenkit.client._transport import parse_body\n"
        "from qwenkit.client._requests import check\n"
        "from qwenkit.types import ChatRequest, ListResponse\n"
        "print(parse_body(ListResponse, b'{\"models\": []}', 'h').models)\n"
        "print(check(ChatRequest, {'model': 'm', 'messages': []}).model)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "m"]
