"""`/api/chat` and `/api/generate`: validation, loading (with the clamp), answer streaming."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .answers import Answer, call_id, default_reply, limit, parse_output, render_calls, tokens
from .protocol import Drop, Event, HttpError, Pause, Stream, StreamError
from .state import Config, LocalModel, Reply, State
from .wire import now_utc, parse_keep_alive, parse_name

INT_OPTIONS = {
    "num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "num_keep", "seed",
    "num_predict", "top_k", "repeat_last_n", "draft_num_predict",
}  # fmt: skip
FLOAT_OPTIONS = {
    "top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
    "frequency_penalty",
}  # fmt: skip
BOOL_OPTIONS = {"use_mmap"}
#: llama-server's answer, passed on by Ollama 0.32 for a model without embeddings
NO_EMBEDDINGS = "This server does not support embeddings. Start it with `--embeddings`"


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Ollama's `Options.FromMap`: wrong JSON types fail, unknown keys are ignored."""
    for key, value in options.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in INT_OPTIONS and not number:
            raise HttpError(500, f'option "{key}" must be of type integer')
        if key in FLOAT_OPTIONS and not number:
            raise HttpError(500, f'option "{key}" must be of type float')
        if key in BOOL_OPTIONS and not isinstance(value, bool):
            raise HttpError(500, f'option "{key}" must be of type boolean')
        if key == "stop" and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise HttpError(500, f'option "{key}" must be of type array')
    return options


def default_context(state: State) -> int:
    """The server's own default: 2048 / 4096, or a VRAM tier from v0.16.0."""
    cfg = state.config
    version = cfg.version_tuple()
    if cfg.default_ctx is not None:
        return cfg.default_ctx
    if version < (0, 6, 7):
        return 2048
    if version < (0, 16, 0) or cfg.vram_bytes is None:
        return 4096
    gib = cfg.vram_bytes / (1 << 30)
    return 262144 if gib >= 47 else 32768 if gib >= 23 else 4096


def context_for(state: State, model: LocalModel, options: dict[str, Any]) -> int:
    """Request num_ctx, else the model's, else the default — clamped since v0.9.3."""
    raw = options.get("num_ctx", model.parameters.get("num_ctx"))
    ctx = int(raw) if raw else default_context(state)
    trained = model.context_length or state.config.trained_ctx
    if state.config.version_tuple() >= (0, 9, 3) and ctx > trained:
        return trained
    return ctx


@dataclass
class Call:
    """One parsed chat/generate request."""

    body: dict[str, Any]
    model: LocalModel
    name: str  # as the caller spelled it
    generate: bool
    options: dict[str, Any]
    keep_alive: float | None

    @property
    def tools(self) -> list[Any]:
        return list(self.body.get("tools") or []) if not self.generate else []

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self.generate:
            return [{"role": "user", "content": str(self.body.get("prompt") or "")}]
        return list(self.body.get("messages") or [])

    @property
    def empty(self) -> bool:
        if self.generate:
            return not self.body.get("prompt")
        return not self.body.get("messages")


def parse_call(state: State, body: dict[str, Any], generate: bool) -> Call:
    """The up-front checks, in the order Ollama's handlers make them."""
    name = body.get("model")
    if not isinstance(name, str) or not name or parse_name(name) is None:
        raise HttpError(400, "model is required")
    try:
        keep_alive = parse_keep_alive(body.get("keep_alive"))
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    if generate and body.get("raw") and (body.get("template") or body.get("system")):
        raise HttpError(400, "raw mode does not support template, system, or context")
    top = body.get("top_logprobs")
    if isinstance(top, int) and not 0 <= top <= 20:
        raise HttpError(400, "top_logprobs must be between 0 and 20")
    model = state.models.find(name)
    if model is None:
        raise HttpError(404, f"model '{name}' not found")
    think = body.get("think")
    if think is not None and think is not False and think != "false":
        raise HttpError(400, f"{json.dumps(name)} does not support thinking")
    if body.get("tools") and not generate and "tools" not in model.capabilities:
        full = parse_name(model.name)
        raise HttpError(400, f"{full.full if full else model.name} does not support tools")
    options = check_options({**model.parameters, **(body.get("options") or {})})
    return Call(body, model, name, generate, options, keep_alive)


def check_format(fmt: Any) -> None:
    """`null`, `""`, `"json"` and objects pass; anything else is a 500 (at completion time)."""
    if fmt in (None, "", "json") or isinstance(fmt, dict):
        return
    raw = json.dumps(fmt)
    raise HttpError(
        500, f'invalid format: {json.dumps(raw)}; expected "json" or a valid JSON Schema object'
    )


def chat(state: State, body: dict[str, Any], *, generate: bool = False) -> Stream:
    call = parse_call(state, body, generate)
    started = time.monotonic()
    ctx = context_for(state, call.model, call.options)
    fresh = len(state.loads)
    state.load(call.model, ctx, call.keep_alive)
    load_ns = 12_000_000 if len(state.loads) > fresh else 150_000
    stream = body.get("stream") is not False
    if call.empty:
        reason = "unload" if call.keep_alive == 0 else "load"
        if reason == "unload":
            state.unload(call.model)
        done = _chunk(call, "", done=True) | {"done_reason": reason}
        return Stream(iter([done]), stream=stream, collect=_merge)
    check_format(body.get("format"))
    if any(state.models.find(name) is call.model for name in state.faults.cut_models):
        return Stream(iter([]), stream=stream, collect=lambda _: _cut_answer(call))
    reply = state.next_reply(body) or _unscripted(state, call, body)
    events = _answer_events(state, call, reply, started, load_ns)
    return Stream(events, stream=stream, collect=_merge)


def _unscripted(state: State, call: Call, body: dict[str, Any]) -> Reply:
    words = state.config.answer_words
    if words and not call.tools and not body.get("format"):
        return Reply(text=" ".join(f"w{i % 100}" for i in range(words)))
    return default_reply(call.messages, body.get("format"), call.tools)


def _cut_answer(call: Call) -> dict[str, Any]:
    """What 0.32 answers with stream:false when the runner gave up: Go's zero value."""
    key, empty = ("response", "") if call.generate else ("message", {"role": "", "content": ""})
    return {"model": "", "created_at": "0001-01-01T00:00:00Z", key: empty, "done": False}


def _chunk(call: Call, text: str, *, done: bool = False) -> dict[str, Any]:
    key = "response" if call.generate else "message"
    value: Any = text if call.generate else {"role": "assistant", "content": text}
    return {"model": call.name, "created_at": now_utc(), key: value, "done": done}


def _answer(call: Call, reply: Reply) -> tuple[Answer, bool, int]:
    tool_names = [t.get("function", {}).get("name") for t in call.tools if isinstance(t, dict)]
    output = reply.text
    if reply.tool_calls:
        output += render_calls(reply.tool_calls)
    num_predict = call.options.get("num_predict")
    output, cut = limit(output, int(num_predict) if num_predict is not None else None)
    return parse_output(output, tool_names), cut, len(tokens(output))


def _answer_events(
    state: State, call: Call, reply: Reply, started: float, load_ns: int
) -> Iterator[Event]:
    answer, cut, generated = _answer(call, reply)
    error = reply.error or state.faults.midstream_error
    truncate = reply.truncate or state.faults.truncate_stream
    if reply.delay:
        yield Pause(reply.delay)
    if state.config.prefill_delay:
        yield Pause(state.config.prefill_delay)
    chunks = answer.content or [""]
    if error:
        chunks = chunks[: max(1, len(chunks) // 2)]
    delays = state.config.token_delays(len(chunks))
    for index, piece in enumerate(chunks):
        if index and delays:
            yield Pause(delays[index - 1])
        yield _chunk(call, piece)
    if error:
        yield StreamError(error)
        return
    for index, function in enumerate(answer.calls):
        chunk = _chunk(call, "")
        calls = [_tool_call(state, index, function)]
        chunk["message"]["tool_calls"] = calls
        yield chunk
    if truncate:
        yield Drop() if truncate == "abort" else Pause(0)
        return
    done_reason = reply.done_reason or ("length" if cut else "stop")
    final = _chunk(call, "", done=True) | {"done_reason": done_reason}
    final.update(_metrics(call, generated, started, load_ns, state.config, delays))
    yield final


def _tool_call(state: State, index: int, function: dict[str, Any]) -> dict[str, Any]:
    """`id` exists since v0.12.10; `index` 0 was omitted (omitempty) before v0.12.6."""
    version = state.config.version_tuple()
    shown = {"index": index, **function}
    if version < (0, 12, 6) and index == 0:
        del shown["index"]
    return {"id": call_id(), "function": shown} if version >= (0, 12, 10) else {"function": shown}


def _metrics(
    call: Call,
    eval_count: int,
    started: float,
    load_ns: int,
    config: Config,
    delays: list[float],
) -> dict[str, Any]:
    """Durations in ns; zero values are left out (omitempty). Scripted timings report
    themselves: prefill as prompt eval, the token pauses as eval."""
    prompt_tokens = 20 + sum(len(str(m.get("content", ""))) // 4 for m in call.messages)
    metrics: dict[str, Any] = {}
    if call.generate:
        metrics["context"] = list(range(151644, 151644 + prompt_tokens + eval_count))
    elapsed = int((time.monotonic() - started) * 1e9)
    eval_ns = round(sum(delays) * 1e9) if delays else eval_count * 20_000_000
    prompt_ns = round(config.prefill_delay * 1e9) or prompt_tokens * 1_000_000
    values = {
        "total_duration": elapsed + load_ns + prompt_ns + eval_ns,
        "load_duration": load_ns,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": eval_count,
        "eval_duration": eval_ns,
    }
    metrics.update({k: v for k, v in values.items() if v})
    return metrics


def _merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """stream:false: content concatenated, tool calls collected, metrics from the last chunk."""
    if not chunks:
        return {}
    merged = dict(chunks[-1])
    if "response" in merged:
        merged["response"] = "".join(str(c.get("response", "")) for c in chunks)
        return merged
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    calls: list[Any] = []
    for chunk in chunks:
        message["content"] += chunk.get("message", {}).get("content", "")
        calls.extend(chunk.get("message", {}).get("tool_calls", []))
    if calls:
        message["tool_calls"] = calls
    merged["message"] = message
    return merged


def embed(state: State, body: dict[str, Any], *, legacy: bool = False) -> dict[str, Any]:
    """Deterministic unit vectors (`/api/embed`, or `/api/embeddings` when legacy)."""
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise HttpError(400, "model is required")
    model = state.models.find(name)
    if model is None:
        raise HttpError(404, f"model '{name}' not found")
    if state.config.version_tuple() >= (0, 32) and "embedding" not in model.capabilities:
        raise HttpError(501, NO_EMBEDDINGS)  # llama-server started without --embeddings
    raw = body.get("prompt", "") if legacy else body.get("input", [])
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise HttpError(400, "invalid input type")
    size = int(body.get("dimensions") or model.arch_int("embedding_length", 3584))
    vectors = [_vector(text, size) for text in inputs]
    state.load(model, context_for(state, model, {}), parse_keep_alive(body.get("keep_alive")))
    if legacy:
        return {"embedding": vectors[0] if vectors else []}
    count = sum(len(text) // 4 + 1 for text in inputs)
    return {
        "model": name,
        "embeddings": vectors,
        "total_duration": 14_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": count,
    }


def _vector(text: str, size: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = [(seed[i % 32] - 127.5) / 127.5 + (i % 7) * 1e-3 for i in range(size)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]
