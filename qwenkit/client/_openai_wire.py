"""Ollama-shaped requests and responses ↔ the OpenAI chat-completions wire format. No I/O.

`OpenAIClient` runs the very same chat flows as `Client` (structured re-ask, tool loop), which
speak `ChatRequest` and `ChatResponse`. This module translates at the edge, so everything
above it is shared:

* `openai_body(request)`: messages (tool calls get `id`s and JSON-text `arguments`; a tool
  result without `tool_call_id` takes the id of the call it answers), `tools` as they are,
  `format` as `response_format` (`json_schema`, which vLLM enforces by guided decoding, or
  `json_object`), sampling options under their OpenAI / vLLM names, and for streams
  `stream_options.include_usage` so the last chunk carries token counts. Options that size the
  server (`num_ctx`, `num_gpu`, ...) belong to the server's own flags and are not sent.
* `chat_response(data)`: a `chat.completion` as a `ChatResponse` (`done_reason` "stop",
  "length"; vLLM's "tool_calls" reads as "stop", as Ollama ends a tool call).
* `SseChat`: `data:` lines of a streamed completion as `ChatChunk`s. Text is passed on at
  once; tool calls arrive in pieces (name, then argument fragments by `index`) and are
  handed over whole in the last chunk, which `data: [DONE]` produces.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

from pydantic_core import from_json

from ..errors import ProtocolError, ResponseError
from ..types import ChatChunk, ChatResponse, ChunkMessage, Function, Message, ToolCall

#: Ollama option -> OpenAI / vLLM request field.
SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",  # vLLM extension
    "min_p": "min_p",  # vLLM extension
    "seed": "seed",
    "stop": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "repeat_penalty": "repetition_penalty",  # vLLM extension
    "num_predict": "max_tokens",
}
_FINISH = {"tool_calls": "stop", "function_call": "stop"}


# --------------------------------------------------------------------------- requests


def openai_body(request: Any) -> dict[str, Any]:
    """The `/chat/completions` body for a checked `ChatRequest`."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": openai_messages(request.messages),
    }
    if request.tools:
        body["tools"] = request.tools
    if request.format:
        body["response_format"] = response_format(request.format)
    for name, value in (request.options or {}).items():
        field = SAMPLING.get(name)
        if field is not None and value is not None and not (field == "max_tokens" and value < 0):
            body[field] = value
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def response_format(fmt: Any) -> dict[str, Any]:
    """Ollama's `format` as OpenAI's `response_format`.

    >>> response_format("json")
    {'type': 'json_object'}
    >>> response_format({"title": "City", "type": "object"})["json_schema"]["name"]
    'City'
    """
    if fmt == "json":
        return {"type": "json_object"}
    title = str(fmt.get("title") or "response")
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in title)[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": fmt}}


def openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in OpenAI's shape; tool results are paired with the calls they answer."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []  # ids of the last assistant turn's calls not yet answered
    for message in messages:
        role = message["role"]
        item: dict[str, Any] = {"role": role, "content": message.get("content") or ""}
        if message.get("images"):
            item["content"] = _with_images(item["content"], message["images"])
        if role == "assistant" and message.get("tool_calls"):
            calls = [_call(call, len(out), i) for i, call in enumerate(message["tool_calls"])]
            item["tool_calls"] = calls
            pending = [c["id"] for c in calls]
        if role == "tool":
            call_id = message.get("tool_call_id") or (pending[0] if pending else "call_0")
            if call_id in pending:
                pending.remove(call_id)
            item["tool_call_id"] = call_id
        out.append(item)
    return out


def _call(call: dict[str, Any], turn: int, index: int) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments", {})
    return {
        "id": call.get("id") or f"call_{turn}_{index}",
        "type": "function",
        "function": {
            "name": function.get("name", ""),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def _with_images(text: str, images: list[str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for data in images:
        url = f"data:image/png;base64,{data}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


# --------------------------------------------------------------------------- responses


@lru_cache(maxsize=16)
def _iso(created: Any) -> str | None:
    """OpenAI's `created` (Unix seconds) as Ollama's `created_at`; answers within the same
    second share one string."""
    if not isinstance(created, int):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))


def _arguments(text: Any, host: str) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ProtocolError(
            f"the server at {host} sent tool-call arguments that are not a JSON object: "
            f"{str(text)[:200]!r}",
            host=host,
        )
    return value


def tool_calls(calls: list[dict[str, Any]] | None, host: str) -> list[ToolCall] | None:
    """OpenAI tool calls (`arguments` as JSON text) as qwenkit `ToolCall`s."""
    if not calls:
        return None
    return [
        ToolCall(
            id=call.get("id"),
            function=Function(
                name=call["function"]["name"],
                arguments=_arguments(call["function"].get("arguments"), host),
            ),
        )
        for call in calls
    ]


def chat_response(body: bytes, host: str) -> ChatResponse:
    """A whole `chat.completion` answer as a `ChatResponse`."""
    try:
        data = from_json(body, cache_strings="keys")
        choice = data["choices"][0]
        message = choice["message"]
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason")
        return ChatResponse.model_validate(
            {
                "model": data.get("model", ""),
                "created_at": _iso(data.get("created")),
                "message": Message(
                    role=message.get("role") or "assistant",
                    content=message.get("content") or "",
                    thinking=message.get("reasoning") or message.get("reasoning_content"),
                    tool_calls=tool_calls(message.get("tool_calls"), host),
                ),
                "done": True,
                "done_reason": _FINISH.get(finish, finish),
                "prompt_eval_count": usage.get("prompt_tokens") or 0,
                "eval_count": usage.get("completion_tokens") or 0,
            }
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProtocolError(
            f"the server at {host} sent a response that is not a chat completion ({exc!r})",
            host=host,
            hint="is base_url an OpenAI-compatible API (ending in /v1)?",
        ) from None


class SseChat:
    """A streamed chat completion, one `data:` line at a time (see the module docstring).

    >>> sse = SseChat("h")
    >>> sse(b'data: {"model":"m","created":0,"choices":[{"index":0,"delta":{"content":"Hi"}}]}')
    ChatChunk({'model': 'm', 'created_at': '1970-01-01T00:00:00Z', 'message': ChunkMessage({'role': 'assistant', 'content': 'Hi'}), 'done': False})
    >>> sse(b'data: [DONE]').done
    True
    """  # noqa: E501

    __slots__ = ("_calls", "_created", "_finish", "_host", "_iso", "_model", "_usage")

    def __init__(self, host: str) -> None:
        self._host = host
        self._model = ""
        self._created: Any = None
        self._iso: str | None = None
        self._finish: str | None = None
        self._usage: dict[str, Any] = {}
        self._calls: dict[int, dict[str, Any]] = {}

    def __call__(self, line: bytes) -> ChatChunk | None:
        if line[:6] == b"data: ":
            payload = line[6:]
        elif line[:5] == b"data:":
            payload = line[5:].lstrip()
        else:
            return None  # a comment (": keep-alive") or an event:/id: field
        if payload == b"[DONE]":
            return self._final()
        try:  # pydantic-core's parser: a few times quicker than `json.loads` per event
            data = from_json(payload, cache_strings="keys")
            choices = data.get("choices")
        except (ValueError, AttributeError):
            raise self._malformed(line) from None
        if choices is None:
            if "error" in data:
                raise self._error(data["error"])
            raise self._malformed(line)
        if data.get("usage"):
            self._usage = data["usage"]
        if not choices:
            return None
        choice = choices[0]
        delta = choice.get("delta") or {}
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        if delta.get("tool_calls"):
            self._add_calls(delta["tool_calls"])
        content = delta.get("content")
        if not content:
            return None
        created = data.get("created")
        if created != self._created:
            self._created, self._iso = created, _iso(created)
            self._model = data.get("model", "")
        return ChatChunk(
            model=self._model,
            created_at=self._iso,
            message=ChunkMessage(role="assistant", content=content),
            done=False,
        )

    def _add_calls(self, deltas: list[dict[str, Any]]) -> None:
        for delta in deltas:
            call = self._calls.setdefault(delta.get("index", 0), {"name": "", "arguments": ""})
            if delta.get("id"):
                call["id"] = delta["id"]
            function = delta.get("function") or {}
            if function.get("name"):
                call["name"] = function["name"]
            if function.get("arguments"):
                call["arguments"] += function["arguments"]

    def _final(self) -> ChatChunk:
        calls = [
            {"id": c.get("id"), "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(self._calls.items())
        ]
        message = ChunkMessage(role="assistant", content="")
        if calls:
            message["tool_calls"] = tool_calls(calls, self._host)
        finish = self._finish or "stop"
        return ChatChunk(
            model=self._model,
            created_at=self._iso,
            message=message,
            done=True,
            done_reason=_FINISH.get(finish, finish),
            prompt_eval_count=self._usage.get("prompt_tokens") or 0,
            eval_count=self._usage.get("completion_tokens") or 0,
        )

    def _error(self, error: Any) -> ResponseError:
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        return ResponseError(str(message), 200, host=self._host)

    def _malformed(self, line: bytes) -> ProtocolError:
        return ProtocolError(
            f"malformed event from the server at {self._host}: {line[:200]!r}",
            host=self._host,
            hint="the stream was cut, or base_url is not an OpenAI-compatible API",
        )
