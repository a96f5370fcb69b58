"""`FakeOpenAI`: a vLLM-shaped OpenAI server on 127.0.0.1 for the client, bench and e2e tests.

    with FakeOpenAI(api_key="k") as fake:
        fake.replies.append(Reply(tool_calls=[("add", {"a": 1, "b": 2})]))
        ...  # talk to fake.base_url (`.../v1`), then assert on fake.requests

What it answers (shapes in `wire.py`): `GET /v1/models`, `GET /health`, `GET /version`,
`POST /v1/chat/completions` (JSON or SSE). With `response_format` `json_schema` it answers an
instance of the schema, as guided decoding would; scripted `Reply`s give text or hermes-style
tool calls; `max_tokens` below the answer's length cuts it with `finish_reason: "length"`.
Faults: `fail_next` (an HTTP error in vLLM's error shape), `stream_error_after` (an error
event mid-stream), `cut_after` (the connection closes without `data: [DONE]`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from . import wire

DEFAULT_TEXT = "Hello from the fake vLLM server. How can I help?"


@dataclass
class Reply:
    """A scripted answer: text, and/or tool calls as (name, arguments) pairs."""

    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    message: str
    err_type: str


class FakeOpenAI:
    """The server; see the module docstring."""

    def __init__(
        self,
        served_names: tuple[str, ...] = ("qwen2.5-7b-instruct",),
        *,
        api_key: str | None = None,
        max_model_len: int = 32768,
        chunks: int | None = None,
        token_delay: float = 0.0,
        root: str = "Qwen/Qwen2.5-7B-Instruct",
        port: int = 0,
    ) -> None:
        self.port = port
        self.served_names = served_names
        self.api_key = api_key
        self.max_model_len = max_model_len
        self.chunks = chunks  # default answers of exactly this many pieces (benchmarks)
        self.token_delay = token_delay
        self.root = root
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.stream_error_after: int | None = None
        self.cut_after: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        self._server = _Server(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def fail_next(self, status: int, message: str, err_type: str = "BadRequestError") -> None:
        self.faults.append(Fault(status, message, err_type))

    @property
    def chats(self) -> list[Any]:
        """Bodies of every chat completion request, in order."""
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    # -- answers ------------------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], str]:
        """Content, tool calls and finish reason for a chat request."""
        with self._lock:
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = Reply(text=self._default_text(body))
        calls = [wire.tool_call(name, args) for name, args in reply.tool_calls]
        if calls and not body.get("tools"):
            calls = []  # vLLM only parses tool calls when the request offers tools
        finish = "tool_calls" if calls else "stop"
        return reply.text, calls, finish

    def _default_text(self, body: dict[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            return json.dumps(schema_instance(schema, schema.get("$defs", {})))
        if fmt.get("type") == "json_object":
            return "{}"
        if self.chunks is not None:
            return "".join(f"w{i} " for i in range(self.chunks))
        return DEFAULT_TEXT


def pieces(text: str) -> list[str]:
    """The answer cut into streamed pieces: a word with its trailing space each."""
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch == " ":
            out.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        out.append(text[start:])
    return out


def schema_instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small valid instance of a JSON schema (what guided decoding would force)."""
    if "$ref" in schema:
        return schema_instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return schema_instance(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: schema_instance(sub, defs) for name, sub in props.items()}
    if kind == "array":
        return [schema_instance(schema.get("items", {}), defs)] * max(1, schema.get("minItems", 1))
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "null": None}[kind]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeOpenAI) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded on the fake."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing -----------------------------------------------------------------------
    def _send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, err_type: str, param: str | None = None) -> None:
        self._send_json(status, wire.error_body(message, err_type, status, param))

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.fake.requests.append(Recorded(self.command, self.path, headers, body))

    def _authorized(self) -> bool:
        key = self.server.fake.api_key
        if key is None or not self.path.startswith("/v1"):
            return True
        if self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send_json(401, {"error": "Unauthorized"})
        return False

    # -- routes -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._record(None)
        fake = self.server.fake
        if not self._authorized():
            return
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/version":
            self._send_json(200, {"version": "0.34.0"})
        elif self.path == "/v1/models":
            cards = [
                {
                    "id": name,
                    "object": "model",
                    "created": int(time.time()),
                    "owned_by": "vllm",
                    "root": fake.root,
                    "parent": None,
                    "max_model_len": fake.max_model_len,
                    "permission": [],
                }
                for name in fake.served_names
            ]
            self._send_json(200, {"object": "list", "data": cards})
        else:
            self._send_json(404, {"detail": "Not Found"})  # FastAPI's answer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        self._record(body)
        if not self._authorized():
            return
        if self.path != "/v1/chat/completions":
            self._send_json(404, {"detail": "Not Found"})
            return
        fake = self.server.fake
        if fake.faults:
            fault = fake.faults.popleft()
            self._error(fault.status, fault.message, fault.err_type)
            return
        problem = _invalid(body, fake)
        if problem is not None:
            self._error(*problem)
            return
        self._chat(body)

    def _chat(self, body: dict[str, Any]) -> None:
        fake = self.server.fake
        content, calls, finish = fake.answer(body)
        parts = pieces(content or "")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit is not None and len(parts) > limit:
            parts, calls, finish = parts[:limit], [], "length"
            content = "".join(parts)
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
        completion_tokens = len(parts) + len(calls)
        request_id = wire.random_id("chatcmpl-")
        if not body.get("stream"):
            self._send_json(
                200,
                wire.completion(
                    request_id,
                    body["model"],
                    content if content else None,
                    calls,
                    finish,
                    prompt_tokens,
                    completion_tokens,
                ),
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        use = wire.usage(prompt_tokens, completion_tokens) if include_usage else None
        with contextlib.suppress(ConnectionError, OSError):
            self._stream(request_id, body["model"], parts, calls, finish, use)

    def _stream(
        self,
        request_id: str,
        model: str,
        parts: list[str],
        calls: list[dict[str, Any]],
        finish: str,
        use: dict[str, Any] | None,
    ) -> None:
        fake = self.server.fake
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        created = int(time.time())
        events = [wire.chunk(request_id, model, created, {"role": "assistant", "content": ""})]
        events += [wire.chunk(request_id, model, created, {"content": p}) for p in parts]
        for index, call in enumerate(calls):
            head = {"index": index, "type": "function", "id": call["id"]}
            head["function"] = {"name": call["function"]["name"]}
            events.append(wire.chunk(request_id, model, created, {"tool_calls": [head]}))
            args = call["function"]["arguments"]
            for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                events.append(wire.chunk(request_id, model, created, delta))
        events.append(wire.chunk(request_id, model, created, {}, finish))
        if use is not None:
            events.append(wire.usage_chunk(request_id, model, created, use))
        for n, event in enumerate(events):
            if fake.cut_after is not None and n >= fake.cut_after:
                self.wfile.write(b"0\r\n\r\n")  # end the body without [DONE]
                self.close_connection = True
                return
            if fake.stream_error_after is not None and n >= fake.stream_error_after:
                error = wire.error_body("engine failure", "InternalServerError", 500)
                self._write_chunk(wire.sse(error))
                break
            self._write_chunk(wire.sse(event))
            if fake.token_delay:
                time.sleep(fake.token_delay)
        self._write_chunk(wire.DONE)
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _invalid(body: Any, fake: FakeOpenAI) -> tuple[int, str, str, str | None] | None:
    """vLLM's 400/404 answers for a request it refuses, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return 400, "messages: Field required", "BadRequestError", None
    model = body.get("model")
    if model not in fake.served_names:
        names = ", ".join(fake.served_names)
        message = f"The model `{model}` does not exist. Valid aliases: {names}."
        return 404, message, "NotFoundError", "model"
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and not fmt.get("json_schema"):
        message = (
            "When response_format type is 'json_schema', the 'json_schema' field must be provided."
        )
        return 400, message, "BadRequestError", "response_format"
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None and limit > fake.max_model_len:
        message = (
            f"'max_tokens' or 'max_completion_tokens' is too large: {limit}. This model's "
            f"maximum context length is {fake.max_model_len} tokens."
        )
        return 400, message, "BadRequestError", "max_tokens"
    return None
