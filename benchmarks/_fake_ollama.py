"""An instant fake Ollama for benchmarks: prebuilt answers, no parsing beyond the request line.

Run as a separate process (so it does not share the client's GIL); prints its port and serves
until stdin closes. Binds 127.0.0.1 only.

    POST /api/chat  {"stream": false}  -> one chat JSON
    POST /api/chat  {"stream": true}   -> 200 NDJSON chunks + a final done line, chunked

With `--openai` it answers any POST as vLLM's `/v1/chat/completions` does: one JSON, or an
event stream of 200 text chunks (`stream: true`).
"""

from __future__ import annotations

import asyncio
import json
import sys

CHUNKS = 200


def _chat(content: str, done: bool) -> dict[str, object]:
    reply: dict[str, object] = {
        "model": "qwenkit-chat",
        "created_at": "2026-08-21T10:00:00.123456Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        reply.update(
            done_reason="stop",
            total_duration=2300000000,
            load_duration=12000000,
            prompt_eval_count=26,
            prompt_eval_duration=150000000,
            eval_count=CHUNKS,
            eval_duration=2100000000,
        )
    return reply


def _single() -> bytes:
    body = json.dumps(_chat("The capital of France is Paris. " * 4, True)).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _streamed() -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    parts = [_chat(f" tok{i}", False) for i in range(CHUNKS)] + [_chat("", True)]
    out = [head]
    for part in parts:  # one HTTP chunk per NDJSON line, as Ollama flushes per token
        line = json.dumps(part).encode() + b"\n"
        out.append(f"{len(line):x}\r\n".encode() + line + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def _openai_single() -> bytes:
    text = "The capital of France is Paris. " * 4
    body = json.dumps(
        {
            "id": "chatcmpl-0",
            "object": "chat.completion",
            "created": 1766311200,
            "model": "qwen2.5-7b-instruct",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "tool_calls": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 26, "total_tokens": 226, "completion_tokens": 200},
        }
    ).encode()
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _openai_streamed() -> bytes:
    """vLLM's event stream: role chunk, 200 text chunks, finish chunk, usage chunk, [DONE]."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    base = {"id": "chatcmpl-0", "object": "chat.completion.chunk", "created": 1766311200}
    base["model"] = "qwen2.5-7b-instruct"

    def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    events: list[object] = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": f" tok{i}"}) for i in range(CHUNKS)]
    events.append(chunk({"content": ""}, "stop"))
    usage = {"prompt_tokens": 26, "total_tokens": 26 + CHUNKS, "completion_tokens": CHUNKS}
    events.append({**base, "choices": [], "usage": usage})
    out = [head]
    for event in [*events, "[DONE]"]:  # one HTTP chunk per event, as vLLM flushes per token
        text = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        line = f"data: {text}\n\n".encode()
        out.append(f"{len(line):x}\r\n".encode() + line + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


if "--openai" in sys.argv:  # an OpenAI-compatible server (vLLM's shapes) instead
    SINGLE, STREAMED = _openai_single(), _openai_streamed()
else:
    SINGLE, STREAMED = _single(), _streamed()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            streamed = b'"stream":true' in body.replace(b" ", b"")
            writer.write(STREAMED if streamed else SINGLE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _main() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # stop when the parent closes stdin
    server.close()


if __name__ == "__main__":
    asyncio.run(_main())
