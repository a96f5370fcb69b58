"""Tools: faithful schemas from Python functions, safe calls, the tool loop, Qwen call rescue.

A function's schema is pydantic's own JSON schema of its signature, so defaults are not
`required`, `Literal`/`Enum` become `enum`, `list[int]` keeps `items`, unions become `anyOf`
and nested models keep their `properties` (inlined: Ollama drops `$ref`/`$defs`). The
docstring's per-argument text (Google, reST or numpy style) becomes each `description`.

The same signature model validates the model's arguments before a call, so a tool never
sees `"3"` for an `int` or an argument it does not take; a tool that was not offered is never
run; failures go back to the model as `tool` messages instead of escaping.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..errors import EmptyToolAnswerWarning, ToolError, ToolRoundsError
from ..types import ChatChunk, ChatResponse, ChunkMessage, Function, Message, ToolCall
from ._docstrings import parse_docstring
from ._requests import message_dict
from ._steps import Ask, Flow, Invoke

ToolLike = Callable[..., Any] | type[BaseModel] | Mapping[str, Any] | BaseModel


@dataclass(frozen=True)
class ToolSpec:
    """One offered tool: its wire schema and, for Python functions, how to call it."""

    name: str
    schema: dict[str, Any]
    func: Callable[..., Any] | None = None
    args_model: type[BaseModel] | None = None
    positional: tuple[str, ...] = ()

    @property
    def is_async(self) -> bool:
        return self.func is not None and inspect.iscoroutinefunction(self.func)


# --------------------------------------------------------------------------- schemas


def tool_from_function(func: Callable[..., Any]) -> ToolSpec:
    """A tool from a typed function; its docstring gives the descriptions."""
    name = getattr(func, "__name__", "")
    if not name.isidentifier():
        raise ToolError(f"a tool needs a named function, got {func!r}")
    summary, arg_docs = parse_docstring(inspect.getdoc(func) or "")
    hints = get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    positional: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolError(f"tool {name}: *args/**kwargs cannot be described to a model")
        if param.kind is param.POSITIONAL_ONLY:
            positional.append(param.name)
        default = ... if param.default is param.empty else param.default
        doc = arg_docs.get(param.name)
        info = Field(default, description=doc) if doc else Field(default)
        fields[param.name] = (hints.get(param.name, Any), info)
    args_model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    parameters = clean_schema(args_model.model_json_schema())
    return ToolSpec(
        name=name,
        schema=_wrap(name, summary, parameters),
        func=func,
        args_model=args_model,
        positional=tuple(positional),
    )


def tool_from_model(model: type[BaseModel]) -> ToolSpec:
    """A tool described by a pydantic model (no Python function: the loop returns the call)."""
    doc = model.__doc__ if "__doc__" in model.__dict__ else None
    summary, _ = parse_docstring(inspect.cleandoc(doc or ""))
    parameters = clean_schema(model.model_json_schema())
    return ToolSpec(name=model.__name__, schema=_wrap(model.__name__, summary, parameters))


def tool_from_dict(tool: Mapping[str, Any]) -> ToolSpec:
    """A ready schema, sent as given (nothing trimmed); a bare function dict is wrapped."""
    data = dict(tool)
    if "function" not in data and "name" in data:
        data = {"type": "function", "function": data}
    name = data.get("function", {}).get("name")
    if not isinstance(name, str) or not name:
        raise ToolError("a tool dict needs function.name")
    return ToolSpec(name=name, schema=data)


def _wrap(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if description:
        function["description"] = description
    function["parameters"] = parameters
    return {"type": "function", "function": function}


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s (Ollama keeps no `$defs`) and drop pydantic's generated titles.

    >>> schema = {"$defs": {"P": {"title": "P", "type": "object",
    ...     "properties": {"title": {"title": "Title", "type": "string"}}}},
    ...     "title": "f", "type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}}
    >>> clean_schema(schema)["properties"]
    {'p': {'type': 'object', 'properties': {'title': {'type': 'string'}}}}
    """
    cleaned: dict[str, Any] = _inline(schema, schema.get("$defs", {}), depth=0)
    return cleaned


def _inline(node: Any, defs: dict[str, Any], depth: int) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        if depth > 8:  # a recursive model: stop describing deeper levels
            return {"type": "object"}
        target = _inline(defs.get(ref.rsplit("/", 1)[1], {}), defs, depth + 1)
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_inline(extra, defs, depth)}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$defs", "title"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _inline(sub, defs, depth) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs, depth)
    return out


# --------------------------------------------------------------------------- calling


@dataclass(frozen=True)
class Invocation:
    """A checked tool call, ready to run; `error` is set when it must not run."""

    name: str
    func: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def run(self) -> str:
        if self.error is not None or self.func is None:
            return self.error or f"error: tool {self.name} cannot run"
        try:
            value = self.func(*self.args, **self.kwargs)
        except Exception as exc:
            return format_exception(exc)
        if inspect.isawaitable(value):
            getattr(value, "close", lambda: None)()
            return f"error: tool {self.name} is async; use qwenkit.AsyncClient to run it"
        return format_result(value)

    async def arun(self) -> str:
        if self.error is not None or self.func is None:
            return self.error or f"error: tool {self.name} cannot run"
        try:
            value = self.func(*self.args, **self.kwargs)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            return format_exception(exc)
        return format_result(value)


def format_result(value: Any) -> str:
    """Tool output as message text: strings as they are, everything else as JSON.

    >>> format_result("ok"), format_result({"t": 21.5}), format_result(None)
    ('ok', '{"t": 21.5}', 'null')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def format_exception(exc: BaseException) -> str:
    return f"error: {type(exc).__name__}: {exc}"


class ToolSet:
    """The tools offered in one chat: schemas to send, calls to check, text to rescue."""

    def __init__(self, specs: Sequence[ToolSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}

    @classmethod
    def of(cls, tools: Sequence[ToolLike]) -> ToolSet:
        return cls([to_spec(tool) for tool in tools])

    @property
    def schemas(self) -> list[dict[str, Any]]:
        return [spec.schema for spec in self.specs.values()]

    @property
    def has_async(self) -> bool:
        return any(spec.is_async for spec in self.specs.values())

    def runnable(self, calls: Sequence[ToolCall]) -> bool:
        """False when a call names an offered tool that has no Python function to run."""
        return all(
            call.function.name not in self.specs or self.specs[call.function.name].func
            for call in calls
        )

    def prepare(self, call: ToolCall) -> Invocation:
        """Check a call against what was offered and the function's signature."""
        name = call.function.name
        spec = self.specs.get(name)
        if spec is None or spec.args_model is None:
            offered = ", ".join(self.specs) or "none"
            return Invocation(name, error=f"error: no tool named {name!r}; offered: {offered}")
        try:
            checked = spec.args_model.model_validate(call.function.arguments)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                for e in err.errors(include_url=False)
            )
            return Invocation(name, error=f"error: invalid arguments for {name}: {problems}")
        values = {key: getattr(checked, key) for key in type(checked).model_fields}
        args = tuple(values.pop(key) for key in spec.positional)
        return Invocation(name, func=spec.func, args=args, kwargs=values)

    def recover(self, response: ChatResponse) -> ChatResponse:
        """Turn `<tool_call>{…}</tool_call>` text (or a bare call object) into tool calls."""
        message = response.message
        if message.tool_calls or not message.content:
            return response
        calls, rest = rescue_calls(message.content, set(self.specs))
        if not calls:
            return response
        fixed = message.model_copy(update={"tool_calls": calls, "content": rest})
        return response.model_copy(update={"message": fixed})


def to_spec(tool: ToolLike) -> ToolSpec:
    if isinstance(tool, type) and issubclass(tool, BaseModel):
        return tool_from_model(tool)
    if isinstance(tool, BaseModel):  # e.g. an `ollama.Tool`
        return tool_from_dict(tool.model_dump(exclude_none=True, by_alias=True))
    if isinstance(tool, Mapping):
        return tool_from_dict(tool)
    if callable(tool):
        return tool_from_function(tool)
    raise ToolError(f"cannot use {tool!r} as a tool: pass a function, a pydantic model or a dict")


# --------------------------------------------------------------------------- rescue

#: a `<tool_call>` block; the last one may be unclosed (the answer stopped after the JSON)
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def rescue_calls(content: str, offered: set[str]) -> tuple[list[ToolCall], str]:
    """Well-formed calls to offered tools found in text, and the text without them.

    >>> calls, rest = rescue_calls(
    ...     'Sure.<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>', {"add"})
    >>> calls[0].function.name, calls[0].function.arguments, rest
    ('add', {'a': 1}, 'Sure.')
    >>> rescue_calls('<tool_call>{"name": "rm", "arguments": {}}</tool_call>', {"add"})[0]
    []
    """
    calls: list[ToolCall] = []
    rest = content
    blocks = list(_BLOCK.finditer(content))
    if blocks:
        for match in blocks:
            found = [c for c in map(_as_call, _candidates(match.group(1))) if c]
            found = [c for c in found if c.function.name in offered]
            if found:
                calls.extend(found)
                rest = rest.replace(match.group(0), "", 1)
    elif content.strip().startswith("{"):
        call = _as_call(content.strip())
        if call and call.function.name in offered:
            calls, rest = [call], ""
    for index, call in enumerate(calls):
        call.function.index = index
    return calls, rest.strip()


class CallHoldback:
    """Holds back streamed text that may start a tool call, so raw `<tool_call>` markup is
    never shown as content (sans-I/O: `feed` each piece of text, `finish` at the end).

    Like Ollama's own parser: text before the tag passes at once; from the tag (or a prefix
    of it at the end of what arrived) the text is held; an answer whose first non-blank
    character is `{` is held whole (a bare call object). At the end the held text becomes
    tool calls where it holds calls to offered tools, and is released as text otherwise.

    >>> hold = CallHoldback({"add"})
    >>> hold.feed("Sure.<tool"), hold.feed('_call>{"name": "add", '), hold.feed('"arguments": {}}')
    ('Sure.', '', '')
    >>> text, calls = hold.finish()
    >>> text, [c.function.name for c in calls]
    ('', ['add'])
    """

    TAG = "<tool_call>"

    def __init__(self, offered: set[str] | frozenset[str]) -> None:
        self.offered = set(offered)
        self.held = ""
        self.started = False  # some non-blank text has arrived
        self.holding = False  # a call may have begun: hold everything to the end

    def feed(self, text: str) -> str:
        """The part of `text` (with what was held) that can be shown now."""
        buf = self.held + text
        if self.holding:
            self.held = buf
            return ""
        if not self.started:
            head = buf.lstrip()
            if not head:  # blank so far: a bare call object may follow
                self.held = buf
                return ""
            self.started = True
            if head.startswith("{"):
                self.holding, self.held = True, buf
                return ""
        at = buf.find(self.TAG)
        if at >= 0:
            self.holding, self.held = True, buf[at:]
            return buf[:at]
        keep = next((k for k in range(len(self.TAG) - 1, 0, -1) if buf.endswith(self.TAG[:k])), 0)
        self.held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep]

    def finish(self) -> tuple[str, list[ToolCall]]:
        """The held text as (text left over, tool calls); all text when it holds no call."""
        held, self.held = self.held, ""
        calls, rest = rescue_calls(held, self.offered) if self.holding else ([], held)
        return (rest, calls) if calls else (held, [])


def hold_back_calls(chunks: Iterable[ChatChunk], offered: frozenset[str]) -> Iterator[ChatChunk]:
    """The chunks of a streamed answer with tool-call text held back and turned into a
    `tool_calls` chunk before the final one, as Ollama streams the calls it parses."""
    hold = CallHoldback(offered)
    for chunk in chunks:
        yield from _held(hold, chunk)


async def ahold_back_calls(
    chunks: AsyncIterable[ChatChunk], offered: frozenset[str]
) -> AsyncIterator[ChatChunk]:
    """The async twin of `hold_back_calls`."""
    hold = CallHoldback(offered)
    async for chunk in chunks:
        for shown in _held(hold, chunk):
            yield shown


def _held(hold: CallHoldback, chunk: ChatChunk) -> list[ChatChunk]:
    """What to show for one chunk: itself, its shown part, nothing, or (at the end) the held
    text as calls or text followed by the final chunk."""
    message = chunk.message
    content = message.content
    shown = hold.feed(content) if content else ""
    if not chunk.done:
        if shown == content:
            return [chunk]
        if shown or message.thinking or message.tool_calls:
            return [_with_message(chunk, {**message, "content": shown})]
        return []
    text, calls = hold.finish()
    out = []
    if shown + text or calls:
        held: dict[str, Any] = {"role": "assistant", "content": shown + text}
        if calls:
            held["tool_calls"] = calls
        out.append(ChatChunk({"model": chunk.model, "created_at": chunk.created_at,
                              "message": ChunkMessage(held), "done": False}))  # fmt: skip
    out.append(_with_message(chunk, {**message, "content": ""}) if content else chunk)
    return out


def _with_message(chunk: ChatChunk, message: dict[str, Any]) -> ChatChunk:
    return ChatChunk({**chunk, "message": ChunkMessage(message)})


def _candidates(block: str) -> list[str]:
    """The block as one JSON object, or else one object per line."""
    try:
        json.loads(block)
    except ValueError:
        return [line for line in block.splitlines() if line.strip()]
    return [block]


def _as_call(text: str) -> ToolCall | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    arguments = data.get("arguments", data.get("parameters"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(function=Function(name=data["name"], arguments=arguments))


# --------------------------------------------------------------------------- the loop


def empty_answer_note(offered: Iterable[str]) -> str:
    """What an empty answer to a request with tools most likely means.

    Ollama drops a tool call it cannot use without a trace: a call to a tool that was not
    offered, or a `<tool_call>` block that is not valid JSON (observed on 0.32.15).
    """
    names = ", ".join(sorted(offered)) or "none"
    return (
        "the model answered nothing although tools were offered: Ollama drops a call to a "
        f"tool that was not offered (offered: {names}) or a tool call it cannot parse, so the "
        "model probably called a tool by another name or wrote a malformed call"
    )


def tool_flow(
    make_request: Callable[[list[dict[str, Any]]], Any],
    messages: list[dict[str, Any]],
    toolset: ToolSet | None,
    *,
    run_tools: bool,
    max_rounds: int,
) -> Flow:
    """Ask; rescue calls; if asked to, run the calls and ask again until a plain answer.

    The answer's `.messages` is the transcript: request messages, every assistant turn and
    every tool result. `max_rounds=0` runs nothing: the answer carries the model's calls, as
    without `run_tools`. A model still calling tools after `max_rounds` rounds raises
    `ToolRoundsError` with the transcript and that last reply.
    """
    transcript = list(messages)
    offered = frozenset(toolset.specs) if toolset is not None else frozenset()
    for round_no in range(max_rounds + 1):
        response: ChatResponse = yield Ask(make_request(transcript), offered)
        if toolset is not None:
            response = toolset.recover(response)
        transcript.append(message_dict(response.message))
        response.messages = [Message.model_validate(m) for m in transcript]
        calls = response.message.tool_calls or []
        if offered and _empty(response):
            warnings.warn(empty_answer_note(offered), EmptyToolAnswerWarning, stacklevel=2)
        if toolset is None or not run_tools or not calls or not toolset.runnable(calls):
            return response
        if max_rounds == 0:  # no round to run: the calls are the answer
            return response
        if round_no == max_rounds:
            break
        for call in calls:
            text = yield Invoke(toolset.prepare(call))
            transcript.append(_tool_message(call, text))
    raise ToolRoundsError(
        f"the model was still calling tools after {max_rounds} rounds",
        messages=response.messages or [],
        response=response,
        hint="raise max_tool_rounds, or check that the tools' results answer the question; "
        "the error's .messages holds every result so far",
    )


def _empty(response: ChatResponse) -> bool:
    """No text, thinking or calls, and not cut at the length limit (that is another story)."""
    message = response.message
    nothing = not (message.content or "").strip() and not message.thinking
    return nothing and not message.tool_calls and response.done_reason != "length"


def _tool_message(call: ToolCall, text: str) -> dict[str, Any]:
    message = {"role": "tool", "content": text, "tool_name": call.function.name}
    if call.id:
        message["tool_call_id"] = call.id
    return message
