"""Streams: typed chunks, the accumulator, and connections that always close."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwenkit import AsyncClient, Client, ProtocolError
from qwenkit.client._streaming import ChatAccumulator
from qwenkit.types import ChatResponse, Message, ToolCall


def line(content: str = "", **extra: Any) -> bytes:
    message = {"role": "assistant", "content": content, **extra.pop("message", {})}
    return json.dumps({"model": "m", "message": message, "done": False, **extra}).encode() + b"\n"


FINAL = json.dumps(
    {
        "model": "m",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 26,
        "eval_count": 5,
        "eval_duration": 2100000000,
    }
).encode()


class TrackedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Records how far the client read and whether it closed the response."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            self.sent += 1
            yield part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.sent += 1
            yield part

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def client_for(body: TrackedBody) -> Client:
    return Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=body)))


PARTS = [line("a"), line("b"), line("c"), FINAL]
HI = [{"role": "user", "content": "hi"}]


def test_exhausted_stream_closes_the_response() -> None:
    body = TrackedBody(PARTS)
    assert [c.message.content for c in client_for(body).chat("m", HI, stream=True)] == [
        "a",
        "b",
        "c",
        "",
    ]
    assert body.closed


def test_closed_stream_closes_the_response_and_stops_reading() -> None:
    body = TrackedBody(PARTS * 50)
    stream = client_for(body).chat("m", HI, stream=True)
    next(stream)
    stream.close()
    assert body.closed and body.sent < 10
    with pytest.raises(ProtocolError):
        stream.final()  # closed before the end: no silent partial result


def test_context_manager_closes_on_break() -> None:
    body = TrackedBody(PARTS)
    with client_for(body).chat("m", HI, stream=True) as stream:
        for _ in stream:
            break
    assert body.closed


def test_abandoned_stream_closes_when_collected() -> None:
    body = TrackedBody(PARTS)
    stream = client_for(body).chat("m", HI, stream=True)
    next(stream)
    del stream
    gc.collect()
    assert body.closed


def test_final_reads_the_rest_after_partial_iteration() -> None:
    body = TrackedBody(PARTS)
    stream = client_for(body).chat("m", HI, stream=True)
    assert next(stream).message.content == "a"
    final = stream.final()
    assert final.message.content == "abc"
    assert (final.eval_count, final.prompt_eval_count, final.done_reason) == (5, 26, "stop")
    assert body.closed


def test_lines_after_done_are_not_read() -> None:
    body = TrackedBody([line("a"), FINAL + b"\n", b"garbage that is never parsed\n"])
    assert client_for(body).chat("m", HI, stream=True).final().message.content == "a"


def test_accumulator_merges_thinking_tool_calls_and_metrics() -> None:
    call = {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}, "index": 0}}
    parts = [
        line(message={"thinking": "Let me "}),
        line(message={"thinking": "check."}),
        line(message={"tool_calls": [call]}),
        line(message={"tool_calls": [{**call, "function": {**call["function"], "index": 1}}]}),
        line("Done"),
        FINAL,
    ]
    final = client_for(TrackedBody(parts)).chat("m", HI, stream=True).final()
    assert final.message.thinking == "Let me check."
    assert [c.function.index for c in final.message.tool_calls or []] == [0, 1]
    assert final.message.tool_calls and final.message.tool_calls[0].function.arguments == {
        "city": "Tokyo"
    }
    assert final.message.content == "Done" and final.eval_duration == 2100000000


@given(st.lists(st.text(max_size=5), min_size=1, max_size=20))
def test_accumulated_text_is_the_concatenation(pieces: list[str]) -> None:
    acc = ChatAccumulator()
    for piece in pieces:
        acc.add(ChatResponse(message=Message(role="assistant", content=piece)))
    acc.add(ChatResponse(done=True, eval_count=len(pieces)))
    final = acc.result()
    assert final.message.content == "".join(pieces)
    assert final.eval_count == len(pieces) and final.message.tool_calls is None


def test_accumulator_without_chunks_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        ChatAccumulator().result()


def test_accumulator_keeps_tool_call_ids() -> None:
    acc = ChatAccumulator()
    tool_call = ToolCall.model_validate({"id": "call_x7k2m9qa", "function": {"name": "f"}})
    acc.add(ChatResponse(message=Message(role="assistant", tool_calls=[tool_call])))
    acc.add(ChatResponse(done=True))
    calls = acc.result().message.tool_calls or []
    assert calls[0].id == "call_x7k2m9qa" and calls[0].function.arguments == {}


def test_async_stream_closes_on_break_and_gives_final() -> None:
    async def go() -> tuple[list[str], str, bool, bool]:
        first = TrackedBody(PARTS * 20)
        transport = httpx.MockTransport(lambda r: httpx.Response(200, stream=first))
        async with AsyncClient(transport=transport) as client:
            stream = await client.chat("m", HI, stream=True)
            async with stream:
                async for _ in stream:
                    break
            second = TrackedBody(PARTS)
            transport2 = httpx.MockTransport(lambda r: httpx.Response(200, stream=second))
            async with AsyncClient(transport=transport2) as client2:
                stream2 = await client2.chat("m", HI, stream=True)
                texts = [c.message.content async for c in stream2]
                final = await stream2.final()
        return texts, final.message.content, first.closed, second.closed

    texts, content, first_closed, second_closed = asyncio.run(go())
    assert texts == ["a", "b", "c", ""] and content == "abc"
    assert first_closed and second_closed


def test_chunks_have_the_response_attribute_names_and_defaults() -> None:
    parts = [line("a", message={"thinking": "t"}, future_field=1), b'{"done": false}\n', FINAL]
    chunks = list(client_for(TrackedBody(parts)).chat("m", HI, stream=True))
    first, bare, last = chunks
    assert (first.model, first.message.role, first.message.content) == ("m", "assistant", "a")
    assert (first.message.thinking, first.message.tool_calls, first.done) == ("t", None, False)
    assert (first.done_reason, first.eval_count, first.total_duration) == (None, 0, 0)
    assert first.future_field == 1  # a newer server's field is kept
    assert (bare.message.content, bare.message.role, bare.model) == ("", "assistant", "")
    assert (last.done, last.done_reason, last.eval_count, last.prompt_eval_count) == (
        True,
        "stop",
        5,
        26,
    )
    assert "'content': 'a'" in repr(first.message) and repr(first).startswith("ChatChunk({")
    assert first["message"]["content"] == "a"  # subscriptable, as `ollama`'s responses are
    with pytest.raises(AttributeError):
        _ = first.no_such_field


def test_chunk_messages_read_as_dicts_and_as_attributes_alike() -> None:
    call = {"function": {"name": "f", "arguments": {}}}
    parts = [line("a", message={"tool_calls": [call]}), b'{"done": false}\n', FINAL]
    first, bare, _ = list(client_for(TrackedBody(parts)).chat("m", HI, stream=True))
    assert first.message is first["message"]
    assert first.message["content"] == first["message"].content == "a"
    assert first["message"]["tool_calls"][0]["function"]["name"] == "f"
    assert (bare["message"].content, bare.message.get("content")) == ("", None)
    assert "content" in first.message and "thinking" not in first.message
    assert repr(first).startswith("ChatChunk({") and "ChunkMessage({" in repr(first)


def test_chunk_tool_calls_are_typed() -> None:
    call = {"function": {"name": "f", "arguments": {"x": 1}}, "id": "call_1"}
    chunks = list(
        client_for(TrackedBody([line(message={"tool_calls": [call]}), FINAL])).chat(
            "m", HI, stream=True
        )
    )
    (tool_call,) = chunks[0].message.tool_calls or []
    assert isinstance(tool_call, ToolCall)
    assert (tool_call.function.name, tool_call.function.arguments, tool_call.id) == (
        "f",
        {"x": 1},
        "call_1",
    )


@pytest.mark.parametrize(
    "bad",
    [
        b'{"model": "m", "message": {"role": "assistant", "content": 5}, "done": false}\n',
        b'{"model": "m", "message": "hello", "done": false}\n',
        b'{"model": "m", "done": "maybe"}\n',
        b"[1, 2]\n",
    ],
)
def test_a_line_of_the_wrong_shape_is_a_protocol_error(bad: bytes) -> None:
    body = TrackedBody([line("a"), bad, FINAL])
    with pytest.raises(ProtocolError):
        list(client_for(body).chat("m", HI, stream=True))
    assert body.closed


def test_generate_chunks_are_typed_and_merged() -> None:
    parts = [
        json.dumps({"model": "m", "response": r, "done": False}).encode() + b"\n"
        for r in ("4", "2")
    ]
    done = {"model": "m", "response": "", "done": True, "context": [1, 2], "eval_count": 2}
    body = TrackedBody([*parts, json.dumps(done).encode()])
    with client_for(body).generate("m", "6*7?", stream=True) as stream:
        texts = [(c.response, c.done, c.context) for c in stream]
        final = stream.final()
    assert texts == [("4", False, None), ("2", False, None), ("", True, [1, 2])]
    assert (final.response, final.context, final.eval_count) == ("42", [1, 2], 2)


def test_the_word_error_in_content_is_not_an_error_line() -> None:
    parts = [line('"error"'), line("error", done_reason=None), FINAL]
    final = client_for(TrackedBody(parts)).chat("m", HI, stream=True).final()
    assert final.message.content == '"error"error'


@pytest.mark.parametrize(
    "error_line",
    [
        b'{"error": "model runner crashed"}\n',
        b'{"model": "m", "done": false, "error": "model runner crashed"}\n',
        b'{"done": "not a bool", "error": "model runner crashed"}\n',  # fails validation too
    ],
)
def test_error_lines_are_response_errors_in_any_shape(error_line: bytes) -> None:
    from qwenkit import ResponseError

    body = TrackedBody([line("a"), error_line, FINAL])
    with pytest.raises(ResponseError) as info:
        list(client_for(body).chat("m", HI, stream=True))
    assert info.value.status_code == 200 and "runner crashed" in str(info.value)
    assert body.closed


@pytest.mark.parametrize(
    ("chunk_cls", "model", "checked"),
    [
        ("ChunkMessage", "Message", "_MessageFields"),
        ("ChatChunk", "ChatResponse", "_ChatFields"),
        ("GenerateChunk", "GenerateResponse", "_GenerateFields"),
    ],
)
def test_chunk_fields_mirror_the_response_models(chunk_cls: str, model: str, checked: str) -> None:
    """The chunk classes, their line validators and the response models each list the
    fields; they must agree on names, types and the defaults of absent keys."""
    import typing

    from qwenkit import types
    from qwenkit.client import _chunks

    chunk_type, model_type = getattr(types, chunk_cls), getattr(types, model)
    hints = typing.get_type_hints(chunk_type)
    checked_keys = set(typing.get_type_hints(getattr(_chunks, checked)))
    assert checked_keys - {"message", "error"} == set(hints)  # `error` fails the line
    for name, hint in hints.items():
        field = model_type.model_fields[name]
        assert field.annotation == hint, name
        if not field.is_required():
            assert getattr(chunk_type({}), name) == field.get_default(call_default_factory=True)
