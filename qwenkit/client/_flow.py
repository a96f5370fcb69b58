"""How a chat call runs: one request, or a multi-step flow (structured re-ask, tool loop).

A flow is a generator that yields `Ask` (send this request, give me the answer) and `Invoke`
(run this tool call, give me its text) and returns the final `ChatResponse`. It is written once
(`structured`, `tools`); the four drivers below run it sync or async, streamed
or not. That is what keeps `Client` and `AsyncClient` thin twins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any, TypedDict

from pydantic import BaseModel

from ..errors import ToolError
from ..types import ChatChunk, ChatRequest, ChatResponse, KeepAlive, Think
from ._plain import plain_chat, remember_options
from ._requests import (
    Call,
    MessageLike,
    OptionsLike,
    as_dict,
    as_format,
    as_keep_alive,
    as_messages,
    chat,
    check,
)
from ._steps import Ask, Flow
from ._streaming import AsyncChatStream, ChatStream, _Box
from .structured import structured_flow
from .tools import ToolLike, ToolSet, ahold_back_calls, hold_back_calls, tool_flow


class ChatKwargs(TypedDict, total=False):
    """The keyword arguments of `chat` besides `stream` (for the typed overloads)."""

    tools: Sequence[ToolLike] | None
    format: Any
    options: OptionsLike | None
    keep_alive: KeepAlive | None
    think: Think | None
    logprobs: bool | None
    top_logprobs: int | None
    response_model: type[BaseModel] | None
    max_retries: int
    run_tools: bool
    max_tool_rounds: int


_CHAT_KWARGS = frozenset(ChatKwargs.__annotations__)


# --------------------------------------------------------------------------- planning


class ChatPlan:
    """A checked chat call: its first request, and how to go on if it takes several steps."""

    __slots__ = ("base", "first", "kw", "messages", "toolset")

    def __init__(
        self,
        base: dict[str, Any],
        messages: list[dict[str, Any]],
        toolset: ToolSet | None,
        kw: dict[str, Any],
    ) -> None:
        self.base, self.messages, self.toolset, self.kw = base, messages, toolset, kw
        self.first = self.request(messages)  # checked now, before anything is sent

    @property
    def simple(self) -> bool:
        return self.toolset is None and self.kw.get("response_model") is None

    def request(self, messages: list[dict[str, Any]]) -> ChatRequest:
        return check(ChatRequest, {**self.base, "messages": messages})

    def flow(self, *, sync: bool) -> Flow:
        run_tools, rounds = self.kw.get("run_tools", False), self.kw.get("max_tool_rounds", 8)
        if sync and run_tools and self.toolset is not None and self.toolset.has_async:
            raise ToolError("async tools need qwenkit.AsyncClient", hint="or pass sync functions")

        def ask(messages: list[dict[str, Any]]) -> Flow:
            return tool_flow(
                self.request, messages, self.toolset, run_tools=run_tools, max_rounds=rounds
            )

        model = self.kw.get("response_model")
        if model is None:
            return ask(self.messages)
        return structured_flow(ask, self.messages, model, self.kw.get("max_retries", 2))


def plan_chat(
    model: str, messages: Sequence[MessageLike] | None, stream: bool, **kw: Any
) -> ChatPlan:
    """Check every argument and build the first request before anything is sent."""
    if kw and not kw.keys() <= _CHAT_KWARGS:
        unknown = ", ".join(sorted(kw.keys() - _CHAT_KWARGS))
        raise TypeError(f"chat() got unexpected keyword arguments: {unknown}")
    rounds = kw.get("max_tool_rounds", 0)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ToolError(
            f"max_tool_rounds must be a whole number of rounds, 0 or more; got {rounds!r}",
            hint="0 returns the model's tool calls without running them",
        )
    base: dict[str, Any] = {"model": model, "stream": stream}
    toolset = None
    if kw.get("tools"):
        toolset = ToolSet.of(kw["tools"])
        base["tools"] = toolset.schemas
    fmt = kw.get("format")
    if fmt is not None or kw.get("response_model") is not None:
        base["format"] = as_format(kw["response_model"] if fmt is None else fmt)
    if kw.get("options") is not None:
        base["options"] = as_dict(kw["options"])
    if kw.get("keep_alive") is not None:
        base["keep_alive"] = as_keep_alive(kw["keep_alive"])
    for name in ("think", "logprobs", "top_logprobs"):  # sent as given, checked by ChatRequest
        if kw.get(name) is not None:
            base[name] = kw[name]
    plan = ChatPlan(base, as_messages(messages), toolset, kw)
    remember_options(kw.get("options"))  # checked: the quick path may send them as given
    return plan


def chat_step(
    model: str, messages: Sequence[MessageLike] | None, stream: bool, kw: dict[str, Any]
) -> Call[ChatResponse] | ChatPlan:
    """The one request of a single-step chat (quick or checked), or the plan of a flow."""
    call = plain_chat(model, messages, stream, kw)
    if call is not None:
        return call
    plan = plan_chat(model, messages, stream, **kw)
    return chat(plan.first) if plan.simple else plan


# --------------------------------------------------------------------------- drivers


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

    def chunks() -> Generator[ChatChunk, None, None]:
        try:
            action = next(flow)
            while True:
                if isinstance(action, Ask):
                    with open_stream(action.request) as stream:
                        if action.offered:
                            yield from hold_back_calls(stream, action.offered)
                        else:
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

    async def chunks() -> AsyncIterator[ChatChunk]:
        try:
            action = next(flow)
            while True:
                if isinstance(action, Ask):
                    async with open_stream(action.request) as stream:
                        offered = action.offered
                        shown = ahold_back_calls(stream, offered) if offered else stream
                        async for chunk in shown:
                            yield chunk
                        reply: Any = await stream.final()
                else:
                    reply = await action.call.arun()
                action = flow.send(reply)
        except StopIteration as stop:
            box.value = stop.value

    return AsyncChatStream(chunks(), box)
