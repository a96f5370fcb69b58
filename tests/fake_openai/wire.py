"""The JSON shapes vLLM's OpenAI server sends, read from vllm 0.34.0's source.

* `entrypoints/openai/chat_completion/protocol.py`: `ChatCompletionResponse` (serialized
  whole, nulls included) and `ChatCompletionStreamResponse` (serialized with
  `exclude_unset=True`, so a chunk carries only the fields set for it).
* `serving.py` `chat_completion_stream_generator`: a first chunk with
  `delta: {"role": "assistant", "content": ""}`, text chunks, a chunk with `finish_reason`,
  then — only with `stream_options.include_usage` — a chunk with `choices: []` and `usage`,
  then `data: [DONE]`. An error inside the stream is one `data: {"error": {...}}` event,
  still followed by `data: [DONE]`.
* `tool_parsers/hermes_tool_parser.py`: tool calls `{"id": "chatcmpl-tool-<hex>", "type":
  "function", "function": {"name", "arguments": <JSON text>}}`, content before `<tool_call>`
  or null, and `finish_reason: "tool_calls"`; streamed as a delta with id, type and name,
  then deltas carrying pieces of `arguments`, each with the call's `index`.
* `entrypoints/serve/exception_handling/error_response.py`: errors are
  `{"error": {"message", "type", "param", "code"}}` (vLLM ≤ 0.10 sent the flat
  `{"object": "error", "message", "type", "param", "code"}`); the API-key middleware answers
  401 `{"error": "Unauthorized"}`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def random_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def error_body(message: str, err_type: str, code: int, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": err_type, "param": param, "code": code}}


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
    }


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": random_id("chatcmpl-tool-"),
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def completion(
    request_id: str,
    model: str,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> dict[str, Any]:
    """A whole `chat.completion`, nulls included, as `model_dump_json()` writes it."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": None,
    }
    if tool_calls:  # ChatMessage drops an empty tool_calls list when serialized
        message["tool_calls"] = tool_calls
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": None,
                "token_ids": None,
            }
        ],
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(prompt_tokens, completion_tokens),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "kv_transfer_params": None,
    }


def chunk(
    request_id: str,
    model: str,
    created: int,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` with one choice (only set fields, as vLLM sends)."""
    choice = {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
    return {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [choice],
    }


def usage_chunk(request_id: str, model: str, created: int, use: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": use,
    }


def sse(obj: Any) -> bytes:
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


DONE = b"data: [DONE]\n\n"
