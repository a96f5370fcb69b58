"""Streams of typed chunks and the sans-I/O accumulators that merge them.

A stream is an iterator *and* a context manager. It owns a generator chain that ends in the
HTTP response, so the response is closed when the stream is exhausted, closed, or dropped
(generator finalisation; for async streams the event loop's async-generator hook). Its
`final()` reads the rest and returns the merged response. Chat and generate lines become
`ChatChunk`/`GenerateChunk` (see `qwenkit.client._chunks` for why not response models).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import IncompleteAnswerError, ProtocolError
from ..types import (
    ChatChunk,
    ChatResponse,
    GenerateChunk,
    GenerateResponse,
    Logprob,
    Message,
    ProgressResponse,
    ToolCall,
)
from ._chunks import chat_chunk, generate_chunk, progress
from ._transport import ErrorLine, line_error

C = TypeVar("C")
R = TypeVar("R", bound=BaseModel)


def _response(cls: type[R], last: Any, **merged: Any) -> R:
    """The full response model: the last chunk's fields (metrics, extras) plus merged ones."""
    if isinstance(last, BaseModel):
        return last.model_copy(update=merged)  # type: ignore[return-value]
    return cls.model_validate({**last, **merged})


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
        self._logprobs: list[Logprob] = []
        self._role = "assistant"
        self._last: ChatChunk | ChatResponse | None = None

    def add(self, chunk: ChatChunk | ChatResponse) -> None:
        field = chunk["message"].get  # `ChunkMessage` or `Message`: both read as dicts
        if content := field("content"):
            self._content.append(content)
        if thinking := field("thinking"):
            self._thinking.append(thinking)
        if tool_calls := field("tool_calls"):
            self._tool_calls.extend(tool_calls)
        if logprobs := chunk.get("logprobs"):
            self._logprobs.extend(logprobs)
        self._role = field("role") or self._role
        self._last = chunk

    def cut(self, host: str, server: str = "Ollama") -> IncompleteAnswerError:
        """The error for a stream that ended without its `done` line, with the text so far."""
        return IncompleteAnswerError(host, partial="".join(self._content), server=server)

    def result(self) -> ChatResponse:
        if self._last is None:
            raise ProtocolError("the chat stream ended before its first chunk")
        message = Message(
            role=self._role,
            content="".join(self._content),
            thinking="".join(self._thinking) or None,
            tool_calls=self._tool_calls or None,
        )
        return _response(ChatResponse, self._last, message=message, logprobs=self._logprobs or None)


class GenerateAccumulator:
    """Merges `/api/generate` chunks: response text, thinking, final metrics and context."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._logprobs: list[Logprob] = []
        self._last: GenerateChunk | GenerateResponse | None = None

    def add(self, chunk: GenerateChunk | GenerateResponse) -> None:
        if chunk.response:
            self._text.append(chunk.response)
        if chunk.thinking:
            self._thinking.append(chunk.thinking)
        if chunk.logprobs:
            self._logprobs.extend(chunk.logprobs)
        self._last = chunk

    def cut(self, host: str, server: str = "Ollama") -> IncompleteAnswerError:
        return IncompleteAnswerError(host, partial="".join(self._text), server=server)

    def result(self) -> GenerateResponse:
        if self._last is None:
            raise ProtocolError("the generate stream ended before its first chunk")
        text, thinking = "".join(self._text), "".join(self._thinking) or None
        return _response(
            GenerateResponse,
            self._last,
            response=text,
            thinking=thinking,
            logprobs=self._logprobs or None,
        )


class LastProgress:
    """The accumulator of pull/create streams: the result is the final status line."""

    def __init__(self) -> None:
        self._last: ProgressResponse | None = None

    def add(self, chunk: ProgressResponse) -> None:
        self._last = chunk

    def result(self) -> ProgressResponse:
        if self._last is None:
            raise ProtocolError("the progress stream ended before its first line")
        return self._last

    def cut(self, host: str, server: str = "Ollama") -> ProtocolError:
        return _truncated(host, server)


# --------------------------------------------------------------------------- typed chunks


def _nothing() -> None:
    return None


def _truncated(host: str, server: str = "Ollama") -> ProtocolError:
    return ProtocolError(
        f"the stream from {server} at {host} ended before its final line",
        host=host,
        hint="the server closed the connection early (crash or restart?); retry the call",
    )


class _Box(Generic[R]):
    """Where a stream's generator leaves its result: a value, or the finished accumulator,
    merged only if `final()` asks (a caller that keeps the chunks may never)."""

    value: R | None = None
    merge: Callable[[], R] | None = None

    def get(self) -> R:
        if self.value is None and self.merge is not None:
            self.value = self.merge()
        if self.value is None:
            raise ProtocolError("the stream was closed before it finished")
        return self.value


def typed(
    lines: Iterator[bytes],
    validate: Callable[[bytes], Any],
    host: str,
    acc: Any,
    box: _Box[Any],
    server: str = "Ollama",
) -> Generator[Any, None, None]:
    """Typed chunks up to `done`, merged as they pass; a stream that ends short raises the
    accumulator's `cut` error (`IncompleteAnswerError` for an answer, else `ProtocolError`).

    `validate` raises on a malformed line and on an `{"error": ...}` line (see `_chunks`), and
    returns None for a line that carries no chunk of its own (OpenAI-style event streams).
    Flat on purpose (no helper calls, no generator layers): this loop runs once per token.
    """
    add = acc.add
    try:
        for line in lines:
            try:
                chunk = validate(line)
            except (ValidationError, ErrorLine) as err:
                raise line_error(line, err, host) from None
            if chunk is None:
                continue
            add(chunk)
            yield chunk
            if chunk.done:
                box.merge = acc.result
                for _ in lines:  # read the response's end, so its connection can be reused
                    pass
                return
        raise acc.cut(host, server)
    finally:  # release the connection now, not when a traceback lets go of `lines`
        getattr(lines, "close", _nothing)()


async def atyped(
    lines: AsyncIterator[bytes],
    validate: Callable[[bytes], Any],
    host: str,
    acc: Any,
    box: _Box[Any],
    server: str = "Ollama",
) -> AsyncGenerator[Any, None]:
    """`typed` for async line streams (flat for the same reason)."""
    add = acc.add
    try:
        async for line in lines:
            try:
                chunk = validate(line)
            except (ValidationError, ErrorLine) as err:
                raise line_error(line, err, host) from None
            if chunk is None:
                continue
            add(chunk)
            yield chunk
            if chunk.done:
                box.merge = acc.result
                async for _ in lines:  # the response's end: its connection can be reused
                    pass
                return
        raise acc.cut(host, server)
    finally:
        closer = getattr(lines, "aclose", None)
        if closer is not None:
            await closer()


# --------------------------------------------------------------------------- stream objects


class Stream(Generic[C, R]):
    """An iterator of typed chunks that closes its HTTP response however it ends."""

    def __init__(self, chunks: Generator[C, None, None], box: _Box[R]) -> None:
        self._chunks = chunks
        self._box = box

    def __iter__(self) -> Iterator[C]:
        return self._chunks  # `for` loops run the generator directly: no wrapper per chunk

    def __next__(self) -> C:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()

    def __enter__(self) -> Stream[C, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def final(self) -> R:
        """Read the rest of the stream and return the merged result."""
        for _ in self._chunks:
            pass
        return self._box.get()


class ChatStream(Stream[ChatChunk, ChatResponse]):
    """`ChatChunk`s; `final()` is the merged `ChatResponse` (with `.parsed`/`.messages`)."""

    def __enter__(self) -> ChatStream:
        return self


class GenerateStream(Stream[GenerateChunk, GenerateResponse]):
    """`GenerateChunk`s; `final()` is the merged `GenerateResponse`."""

    def __enter__(self) -> GenerateStream:
        return self


class ProgressStream(Stream[ProgressResponse, ProgressResponse]):
    """Pull/create progress lines; `final()` is the last one (`status == "success"`)."""

    def __enter__(self) -> ProgressStream:
        return self


class AsyncStream(Generic[C, R]):
    """The async twin of `Stream`: `async for`, `async with`, `aclose()`, `await final()`."""

    def __init__(self, chunks: AsyncIterator[C], box: _Box[R]) -> None:
        self._chunks = chunks
        self._box = box

    def __aiter__(self) -> AsyncIterator[C]:
        return self._chunks  # `async for` runs the generator directly: no coroutine per chunk

    async def __anext__(self) -> C:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()

    async def __aenter__(self) -> AsyncStream[C, R]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def final(self) -> R:
        """Read the rest of the stream and return the merged result."""
        async for _ in self._chunks:
            pass
        return self._box.get()


class AsyncChatStream(AsyncStream[ChatChunk, ChatResponse]):
    """Async `ChatChunk`s; `await final()` is the merged `ChatResponse`."""

    async def __aenter__(self) -> AsyncChatStream:
        return self


class AsyncGenerateStream(AsyncStream[GenerateChunk, GenerateResponse]):
    """Async `GenerateChunk`s; `await final()` is the merged `GenerateResponse`."""

    async def __aenter__(self) -> AsyncGenerateStream:
        return self


class AsyncProgressStream(AsyncStream[ProgressResponse, ProgressResponse]):
    """Async pull/create progress lines."""

    async def __aenter__(self) -> AsyncProgressStream:
        return self


# --------------------------------------------------------------------------- building streams


def chat_stream(lines: Iterator[bytes], host: str) -> ChatStream:
    box: _Box[ChatResponse] = _Box()
    return ChatStream(typed(lines, chat_chunk(), host, ChatAccumulator(), box), box)


def achat_stream(lines: AsyncIterator[bytes], host: str) -> AsyncChatStream:
    box: _Box[ChatResponse] = _Box()
    return AsyncChatStream(atyped(lines, chat_chunk(), host, ChatAccumulator(), box), box)


def generate_stream(lines: Iterator[bytes], host: str) -> GenerateStream:
    box: _Box[GenerateResponse] = _Box()
    return GenerateStream(typed(lines, generate_chunk(), host, GenerateAccumulator(), box), box)


def agenerate_stream(lines: AsyncIterator[bytes], host: str) -> AsyncGenerateStream:
    box: _Box[GenerateResponse] = _Box()
    acc = GenerateAccumulator()
    return AsyncGenerateStream(atyped(lines, generate_chunk(), host, acc, box), box)


def progress_stream(lines: Iterator[bytes], host: str) -> ProgressStream:
    box: _Box[ProgressResponse] = _Box()
    return ProgressStream(typed(lines, progress, host, LastProgress(), box), box)


def aprogress_stream(lines: AsyncIterator[bytes], host: str) -> AsyncProgressStream:
    box: _Box[ProgressResponse] = _Box()
    return AsyncProgressStream(atyped(lines, progress, host, LastProgress(), box), box)
