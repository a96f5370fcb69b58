"""Streams of typed chunks, the sans-I/O accumulator, and the drivers of multi-step chats.

A stream is an iterator *and* a context manager. It owns a generator chain that ends in the
HTTP response, so the response is closed when the stream is exhausted, closed, or dropped
(generator finalisation; for async streams the event loop's async-generator hook).

Multi-step chats (structured re-ask, tool loops) are written once, as generators that yield
`Ask`/`Invoke` actions (see `qwenkit.tools.chat_flow`); the four drivers below run such a flow
sync or async, streamed or not. That is what keeps `Client` and `AsyncClient` thin twins.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._transport import parse_line
from .errors import ProtocolError
from .types import ChatResponse, GenerateResponse, Message, ProgressResponse, ToolCall

T = TypeVar("T", bound=BaseModel)


# --------------------------------------------------------------------------- accumulators


class ChatAccumulator:
    """Merges chat chunks into one `ChatResponse`: text, thinking, tool calls, final metrics.

    >>> acc = ChatAccumulator()
    >>> for text in ("Hel", "lo"):
    ...     acc.add(ChatResponse(message=Message(role="assistant", content=text)))
    >>> acc.add(ChatResponse(done=True, done_reason="stop", eval_count=2))
    >>> final = acc.result()
    >>> final.message.content, final.done_reason, final.eval_count
    ('Hello', 'stop', 2)
    """

    def __init__(self) -> None:
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._tool_calls: list[ToolCall] = []
        self._role = "assistant"
        self._last: ChatResponse | None = None

    def add(self, chunk: ChatResponse) -> None:
        message = chunk.message
        if message.content:
            self._content.append(message.content)
        if message.thinking:
            self._thinking.append(message.thinking)
        if message.tool_calls:
            self._tool_calls.extend(message.tool_calls)
        self._role = message.role or self._role
        self._last = chunk

    def result(self) -> ChatResponse:
        if self._last is None:
            raise ProtocolError("the chat stream ended before its first chunk")
        message = Message(
            role=self._role,
            content="".join(self._content),
            thinking="".join(self._thinking) or None,
            tool_calls=self._tool_calls or None,
        )
        return self._last.model_copy(update={"message": message})


class GenerateAccumulator:
    """Merges `/api/generate` chunks: response text, thinking, final metrics and context."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._last: GenerateResponse | None = None

    def add(self, chunk: GenerateResponse) -> None:
        if chunk.response:
            self._text.append(chunk.response)
        if chunk.thinking:
            self._thinking.append(chunk.thinking)
        self._last = chunk

    def result(self) -> GenerateResponse:
        if self._last is None:
            raise ProtocolError("the generate stream ended before its first chunk")
        return self._last.model_copy(
            update={"response": "".join(self._text), "thinking": "".join(self._thinking) or None}
        )


# --------------------------------------------------------------------------- parsing lines


def is_done(chunk: BaseModel) -> bool:
    """Chat/generate end with `done: true`; pull/create end with `status: "success"`."""
    if isinstance(chunk, ProgressResponse):
        return chunk.status == "success"
    return bool(getattr(chunk, "done", False))


def _nothing() -> None:
    return None


def _truncated(host: str) -> ProtocolError:
    return ProtocolError(
        f"the stream from Ollama at {host} ended before its final line",
        host=host,
        hint="the server closed the connection early (crash or restart?); retry the call",
    )


def parsed(lines: Iterator[bytes], cls: type[T], host: str) -> Generator[T, None, None]:
    """Typed chunks up to the final one; a stream that stops short is a `ProtocolError`."""
    try:
        for line in lines:
            chunk = parse_line(cls, line, host)
            yield chunk
            if is_done(chunk):
                return
        raise _truncated(host)
    finally:  # release the connection now, not when a traceback lets go of `lines`
        getattr(lines, "close", _nothing)()


async def aparsed(lines: AsyncIterator[bytes], cls: type[T], host: str) -> AsyncGenerator[T, None]:
    """`parsed` for async line streams."""
    try:
        async for line in lines:
            chunk = parse_line(cls, line, host)
            yield chunk
            if is_done(chunk):
                return
        raise _truncated(host)
    finally:
        closer = getattr(lines, "aclose", None)
        if closer is not None:
            await closer()


# --------------------------------------------------------------------------- stream objects


class _Box(Generic[T]):
    """Where a stream's generator leaves its final value."""

    value: T | None = None


class Stream(Generic[T]):
    """An iterator of typed chunks that closes its HTTP response however it ends."""

    def __init__(self, chunks: Generator[T, None, None]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[T]:
        return self._chunks  # `for` loops run the generator directly: no wrapper per chunk

    def __next__(self) -> T:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Final(Stream[T]):
    def __init__(self, chunks: Generator[T, None, None], box: _Box[T]) -> None:
        super().__init__(chunks)
        self._box = box

    def final(self) -> T:
        """Read the rest of the stream and return the merged result."""
        for _ in self._chunks:
            pass
        if self._box.value is None:
            raise ProtocolError("the stream was closed before it finished")
        return self._box.value


class ChatStream(_Final[ChatResponse]):
    """Chat chunks; `final()` is the merged `ChatResponse` (with `.parsed`/`.messages`)."""

    def __enter__(self) -> ChatStream:
        return self


class GenerateStream(_Final[GenerateResponse]):
    """Generate chunks; `final()` is the merged `GenerateResponse`."""

    def __enter__(self) -> GenerateStream:
        return self


class AsyncStream(Generic[T]):
    """The async twin of `Stream`: `async for`, `async with`, `aclose()`."""

    def __init__(self, chunks: AsyncIterator[T]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _AsyncFinal(AsyncStream[T]):
    def __init__(self, chunks: AsyncIterator[T], box: _Box[T]) -> None:
        super().__init__(chunks)
        self._box = box

    async def final(self) -> T:
        """Read the rest of the stream and return the merged result."""
        async for _ in self._chunks:
            pass
        if self._box.value is None:
            raise ProtocolError("the stream was closed before it finished")
        return self._box.value


class AsyncChatStream(_AsyncFinal[ChatResponse]):
    """Async chat chunks; `await final()` is the merged `ChatResponse`."""

    async def __aenter__(self) -> AsyncChatStream:
        return self


class AsyncGenerateStream(_AsyncFinal[GenerateResponse]):
    """Async generate chunks; `await final()` is the merged `GenerateResponse`."""

    async def __aenter__(self) -> AsyncGenerateStream:
        return self


# --------------------------------------------------------------------------- building streams


def _merged(
    lines: Iterator[bytes], cls: type[Any], host: str, acc: Any, box: _Box[Any]
) -> Generator[Any, None, None]:
    """Typed chunks, merged as they pass; the merged result lands in `box` at `done`.

    One flat generator (no `parsed` layer) because this loop runs once per token.
    """
    add, validate = acc.add, cls.model_validate_json
    try:
        for line in lines:
            try:  # fast path; `parse_line` gives error lines and bad JSON their exceptions
                chunk = parse_line(cls, line, host) if b'"error"' in line else validate(line)
            except ValidationError:
                chunk = parse_line(cls, line, host)
            add(chunk)
            yield chunk
            if chunk.done:
                box.value = acc.result()
                return
        raise _truncated(host)
    finally:
        getattr(lines, "close", _nothing)()


async def _amerged(
    lines: AsyncIterator[bytes], cls: type[Any], host: str, acc: Any, box: _Box[Any]
) -> AsyncGenerator[Any, None]:
    try:
        async for line in lines:
            chunk = parse_line(cls, line, host)
            acc.add(chunk)
            yield chunk
            if chunk.done:
                box.value = acc.result()
                return
        raise _truncated(host)
    finally:
        closer = getattr(lines, "aclose", None)
        if closer is not None:
            await closer()


def chat_stream(lines: Iterator[bytes], host: str) -> ChatStream:
    box: _Box[ChatResponse] = _Box()
    return ChatStream(_merged(lines, ChatResponse, host, ChatAccumulator(), box), box)


def achat_stream(lines: AsyncIterator[bytes], host: str) -> AsyncChatStream:
    box: _Box[ChatResponse] = _Box()
    return AsyncChatStream(_amerged(lines, ChatResponse, host, ChatAccumulator(), box), box)


def generate_stream(lines: Iterator[bytes], host: str) -> GenerateStream:
    box: _Box[GenerateResponse] = _Box()
    return GenerateStream(_merged(lines, GenerateResponse, host, GenerateAccumulator(), box), box)


def agenerate_stream(lines: AsyncIterator[bytes], host: str) -> AsyncGenerateStream:
    box: _Box[GenerateResponse] = _Box()
    return AsyncGenerateStream(
        _amerged(lines, GenerateResponse, host, GenerateAccumulator(), box), box
    )


# --------------------------------------------------------------------------- flow drivers


@dataclass(frozen=True)
class Ask:
    """Flow action: send this `/api/chat` body (a `ChatRequest`), give back the answer."""

    request: Any


@dataclass(frozen=True)
class Invoke:
    """Flow action: run this prepared tool call, give back the tool message text."""

    call: Any  # qwenkit.tools.Invocation


Flow = Generator["Ask | Invoke", Any, ChatResponse]


def drive(flow: Flow, send: Callable[[Any], ChatResponse]) -> ChatResponse:
    """Run a flow with blocking, non-streamed requests."""
    try:
        action = next(flow)
        while True:
            reply = send(action.request) if isinstance(action, Ask) else action.call.run()
            action = flow.send(reply)
    except StopIteration as stop:
        result: ChatResponse = stop.value
        return result


async def adrive(flow: Flow, send: Callable[[Any], Awaitable[ChatResponse]]) -> ChatResponse:
    """Run a flow with async, non-streamed requests; async tools are awaited."""
    try:
        action = next(flow)
        while True:
            if isinstance(action, Ask):
                reply: Any = await send(action.request)
            else:
                reply = await action.call.arun()
            action = flow.send(reply)
    except StopIteration as stop:
        result: ChatResponse = stop.value
        return result


def stream_flow(flow: Flow, open_stream: Callable[[Any], ChatStream]) -> ChatStream:
    """A `ChatStream` over every request a flow makes (each re-ask or tool round streams)."""
    box: _Box[ChatResponse] = _Box()

    def chunks() -> Generator[ChatResponse, None, None]:
        try:
            action = next(flow)
            while True:
                if isinstance(action, Ask):
                    with open_stream(action.request) as stream:
                        yield from stream
                        reply: Any = stream.final()
                else:
                    reply = action.call.run()
                action = flow.send(reply)
        except StopIteration as stop:
            box.value = stop.value

    return ChatStream(chunks(), box)


def astream_flow(flow: Flow, open_stream: Callable[[Any], AsyncChatStream]) -> AsyncChatStream:
    """The async twin of `stream_flow`."""
    box: _Box[ChatResponse] = _Box()

    async def chunks() -> AsyncIterator[ChatResponse]:
        try:
            action = next(flow)
            while True:
                if isinstance(action, Ask):
                    async with open_stream(action.request) as stream:
                        async for chunk in stream:
                            yield chunk
                        reply: Any = await stream.final()
                else:
                    reply = await action.call.arun()
                action = flow.send(reply)
        except StopIteration as stop:
            box.value = stop.value

    return AsyncChatStream(chunks(), box)
