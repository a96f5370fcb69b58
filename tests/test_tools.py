"""Tool schemas from functions, the tool loop, and `<tool_call>` rescue."""

from __future__ import annotations

import asyncio
import enum
import json
import warnings
from typing import Annotated, Any, Literal

import httpx
import pytest
from pydantic import BaseModel, Field

import qwenkit
from qwenkit import Client, ToolError, ToolRoundsError
from qwenkit.client.tools import (
    EmptyToolAnswerWarning,
    ToolSet,
    parse_docstring,
    rescue_calls,
    tool_from_function,
)
from qwenkit.types import ChatResponse, Function, Message, ToolCall


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Place(BaseModel):
    """A place on Earth."""

    city: str
    country: str = "JP"


def forecast(
    place: Place,
    days: list[int],
    unit: Literal["c", "f"] = "c",
    scale: Unit = Unit.CELSIUS,
    limit: int | str = 3,
    note: Annotated[str, Field(description="free text")] = "",
) -> str:
    """Forecast the weather.

    Args:
        place: Where to look.
        days (list[int]): Days ahead,
            starting at 0.
        unit: Temperature unit.

    Returns:
        A summary.
    """
    return "sunny"


def params(func: Any) -> dict[str, Any]:
    schema: dict[str, Any] = tool_from_function(func).schema["function"]["parameters"]
    return schema


def test_defaults_are_not_required() -> None:
    assert params(forecast)["required"] == ["place", "days"]


def test_literal_and_enum_become_enum() -> None:
    props = params(forecast)["properties"]
    assert props["unit"]["enum"] == ["c", "f"]
    assert props["scale"]["enum"] == ["celsius", "fahrenheit"]


def test_list_keeps_item_type() -> None:
    assert params(forecast)["properties"]["days"]["items"] == {"type": "integer"}
    assert params(forecast)["properties"]["days"]["type"] == "array"


def test_union_becomes_any_of() -> None:
    assert params(forecast)["properties"]["limit"]["anyOf"] == [
        {"type": "integer"},
        {"type": "string"},
    ]


def test_nested_model_keeps_its_properties_inline() -> None:
    schema = params(forecast)
    place = schema["properties"]["place"]
    assert place["properties"]["city"] == {"type": "string"}
    assert place["required"] == ["city"]
    assert "$defs" not in json.dumps(schema) and "$ref" not in json.dumps(schema)
    assert "title" not in place


def test_docstring_descriptions_google_style() -> None:
    tool = tool_from_function(forecast).schema["function"]
    assert tool["description"] == "Forecast the weather."
    props = tool["parameters"]["properties"]
    assert props["place"]["description"] == "Where to look."
    assert props["days"]["description"] == "Days ahead, starting at 0."
    assert props["note"]["description"] == "free text"  # Annotated Field kept
    assert "description" not in props["limit"]


def test_docstring_rest_style() -> None:
    def add(a: int, b: int = 0) -> int:
        """Add two numbers.

        :param a: the first
            number
        :param int b: the second
        :returns: the sum
        """
        return a + b

    tool = tool_from_function(add).schema["function"]
    assert tool["description"] == "Add two numbers."
    assert tool["parameters"]["properties"]["a"]["description"] == "the first number"
    assert tool["parameters"]["properties"]["b"]["description"] == "the second"


def test_docstring_numpy_style() -> None:
    def scale(x: float, factor: float = 2.0) -> float:
        """Scale a value.

        Parameters
        ----------
        x : float
            The value.
        factor : float, optional
            How much,
            at most 10.

        Returns
        -------
        float
        """
        return x * factor

    props = params(scale)["properties"]
    assert props["x"]["description"] == "The value."
    assert props["factor"]["description"] == "How much, at most 10."
    assert params(scale)["required"] == ["x"]


def test_parse_docstring_leaves_unknown_sections_out() -> None:
    summary, args = parse_docstring("Do it.\n\nRaises:\n    ValueError: never\n")
    assert summary == "Do it." and args == {}


def test_varargs_and_lambdas_are_refused() -> None:
    def star(*names: str) -> None: ...

    with pytest.raises(ToolError):
        tool_from_function(star)
    with pytest.raises(ToolError):
        tool_from_function(lambda x: x)


def test_dict_and_model_tools_are_sent_untrimmed() -> None:
    raw = {
        "type": "function",
        "function": {
            "name": "search",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string", "minLength": 2}},
                "required": ["q"],
            },
        },
    }
    tools = ToolSet.of([raw, Place, {"name": "bare", "parameters": {"type": "object"}}])
    schemas = tools.schemas
    assert schemas[0] == raw
    assert schemas[1]["function"]["name"] == "Place"
    assert schemas[1]["function"]["description"] == "A place on Earth."
    assert schemas[2] == {
        "type": "function",
        "function": {"name": "bare", "parameters": {"type": "object"}},
    }


# --------------------------------------------------------------------------- calling


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(function=Function(name=name, arguments=arguments))


def test_arguments_are_validated_and_coerced_before_the_call() -> None:
    seen: list[Any] = []

    def add(a: int, b: int = 1) -> int:
        seen.append((a, b))
        return a + b

    tools = ToolSet.of([add])
    assert tools.prepare(call("add", a="3", b=4)).run() == "7"
    assert seen == [(3, 4)]
    bad = tools.prepare(call("add", a="three")).run()
    assert bad.startswith("error: invalid arguments for add") and "a:" in bad
    extra = tools.prepare(call("add", a=1, c=2)).run()
    assert "c:" in extra and seen == [(3, 4)]  # never called with bad arguments


def test_unknown_tool_is_never_called() -> None:
    tools = ToolSet.of([forecast])
    text = tools.prepare(call("rm_rf", path="/")).run()
    assert text == "error: no tool named 'rm_rf'; offered: forecast"


def test_failing_tool_returns_its_exception_text() -> None:
    def boom() -> None:
        raise RuntimeError("disk on fire")

    assert ToolSet.of([boom]).prepare(call("boom")).run() == "error: RuntimeError: disk on fire"


def test_results_are_serialised() -> None:
    def info() -> Place:
        return Place(city="Kyoto")

    assert json.loads(ToolSet.of([info]).prepare(call("info")).run()) == {
        "city": "Kyoto",
        "country": "JP",
    }


# --------------------------------------------------------------------------- rescue


def test_rescue_from_tags_keeps_only_well_formed_offered_calls() -> None:
    content = (
        "Let me check.\n"
        '<tool_call>\n{"name": "forecast", "arguments": {"days": [0]}}\n</tool_call>\n'
        '<tool_call>{"name": "forecast", "arguments": {"days": [1]</tool_call>\n'  # broken JSON
        '<tool_call>{"name": "delete_all", "arguments": {}}</tool_call>'  # not offered
    )
    calls, rest = rescue_calls(content, {"forecast"})
    assert [(c.function.name, c.function.arguments) for c in calls] == [("forecast", {"days": [0]})]
    assert rest.startswith("Let me check.") and "delete_all" in rest
    assert '"days": [0]' not in rest


def test_rescue_several_calls_and_string_arguments() -> None:
    content = (
        '<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call>'
        '<tool_call>{"name": "b", "parameters": {"y": 2}}</tool_call>'
    )
    calls, rest = rescue_calls(content, {"a", "b"})
    assert [(c.function.name, c.function.arguments, c.function.index) for c in calls] == [
        ("a", {"x": 1}, 0),
        ("b", {"y": 2}, 1),
    ]
    assert rest == ""


def test_rescue_bare_json_only_when_it_is_the_whole_answer() -> None:
    calls, _ = rescue_calls('{"name": "a", "arguments": {"x": 1}}', {"a"})
    assert len(calls) == 1
    assert rescue_calls('Use {"name": "a", "arguments": {}} later', {"a"})[0] == []
    assert rescue_calls('{"name": "a"}', {"a"})[0] == []  # no arguments: not a call


def test_recover_leaves_real_tool_calls_alone() -> None:
    real = Message(role="assistant", content="<tool_call>{}</tool_call>", tool_calls=[call("a")])
    response = ChatResponse(message=real)
    assert ToolSet.of([{"name": "a"}]).recover(response) is response


# --------------------------------------------------------------------------- the loop


def scripted(*answers: dict[str, Any]) -> tuple[Client, list[dict[str, Any]]]:
    """A client whose server replies with `answers` in order; records request bodies."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        message = answers[len(bodies) - 1]
        return httpx.Response(200, json={"model": "m", "message": message, "done": True})

    return Client(transport=httpx.MockTransport(handler)), bodies


def assistant(content: str = "", *calls: ToolCall) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [c.model_dump(exclude_none=True) for c in calls]
    return message


def add(a: int, b: int) -> int:
    """Add.

    Args:
        a: first
        b: second
    """
    return a + b


def test_tool_loop_runs_several_calls_per_turn_and_returns_the_transcript() -> None:
    first = call("add", a=1, b=2)
    first.id = "call_aaaaaaaa"
    client, bodies = scripted(
        assistant("", first, call("add", a="10", b=5), call("nope")),
        assistant("3 and 15"),
    )
    reply = client.chat("m", [{"role": "user", "content": "sums?"}], tools=[add], run_tools=True)
    assert reply.message.content == "3 and 15"
    tool_messages = [m for m in bodies[1]["messages"] if m["role"] == "tool"]
    assert [(m["content"], m["tool_name"]) for m in tool_messages] == [
        ("3", "add"),
        ("15", "add"),
        ("error: no tool named 'nope'; offered: add", "nope"),
    ]
    assert tool_messages[0]["tool_call_id"] == "call_aaaaaaaa"
    assert bodies[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"a": 1, "b": 2}
    assert [m.role for m in reply.messages or []] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "tool",
        "assistant",
    ]
    assert bodies[0]["tools"][0]["function"]["name"] == "add"


def test_tool_loop_rescues_tagged_calls_from_content() -> None:
    client, bodies = scripted(
        assistant('<tool_call>{"name": "add", "arguments": {"a": 2, "b": 2}}</tool_call>'),
        assistant("4"),
    )
    reply = client.chat("m", [{"role": "user", "content": "2+2"}], tools=[add], run_tools=True)
    assert reply.message.content == "4"
    assert bodies[1]["messages"][-1] == {"role": "tool", "content": "4", "tool_name": "add"}
    assert bodies[1]["messages"][1]["content"] == ""  # the tag text is not echoed back


def test_rescue_applies_without_running_tools() -> None:
    client, _ = scripted(
        assistant('<tool_call>{"name": "add", "arguments": {"a": 1, "b": 1}}</tool_call>')
    )
    reply = client.chat("m", [{"role": "user", "content": "?"}], tools=[add])
    assert reply.message.tool_calls and reply.message.tool_calls[0].function.name == "add"


def test_tool_loop_stops_after_max_rounds_and_keeps_the_transcript() -> None:
    looping = assistant("", call("add", a=1, b=1))
    client, bodies = scripted(looping, looping, looping)
    question = {"role": "user", "content": "1+1, again and again"}
    with pytest.raises(ToolRoundsError, match="2 rounds") as err:
        client.chat("m", [question], tools=[add], run_tools=True, max_tool_rounds=2)
    assert len(bodies) == 3
    roles = [m.role for m in err.value.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [m.content for m in err.value.messages if m.role == "tool"] == ["2", "2"]
    last = err.value.response
    assert last.message.tool_calls and last.message.tool_calls[0].function.arguments == {
        "a": 1,
        "b": 1,
    }
    assert last.messages == err.value.messages and isinstance(err.value, ToolError)


def test_zero_rounds_returns_the_calls_without_running_them() -> None:
    ran: list[int] = []

    def record(a: int) -> int:
        ran.append(a)
        return a

    client, bodies = scripted(assistant("", call("record", a=7)))
    reply = client.chat("m", [], tools=[record], run_tools=True, max_tool_rounds=0)
    assert reply.message.tool_calls and reply.message.tool_calls[0].function.name == "record"
    assert ran == [] and len(bodies) == 1
    assert [m.role for m in reply.messages or []] == ["assistant"]


@pytest.mark.parametrize("rounds", [-1, 1.5, True, "2"])
def test_a_bad_round_limit_is_refused_before_sending(rounds: Any) -> None:
    client, bodies = scripted()
    with pytest.raises(ToolError, match="max_tool_rounds"):
        client.chat("m", [], tools=[add], run_tools=True, max_tool_rounds=rounds)
    assert bodies == []


def test_tool_without_python_function_ends_the_loop_with_the_call() -> None:
    client, bodies = scripted(assistant("", call("Place", city="Oslo")))
    reply = client.chat("m", [], tools=[Place, add], run_tools=True)
    assert reply.message.tool_calls and reply.message.tool_calls[0].function.arguments == {
        "city": "Oslo"
    }
    assert len(bodies) == 1


def test_async_tool_in_sync_client_is_refused_up_front() -> None:
    async def slow() -> str:
        return "x"

    client, bodies = scripted()
    with pytest.raises(ToolError, match="AsyncClient"):
        client.chat("m", [], tools=[slow], run_tools=True)
    assert bodies == []


def test_tool_loop_streams_every_round() -> None:
    lines = [
        [assistant("", call("add", a=1, b=2))],
        [assistant("The sum "), assistant("is 3.")],
    ]
    rounds: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        rounds.append(json.loads(request.content))
        chunks = [{"model": "m", "message": m, "done": False} for m in lines[len(rounds) - 1]]
        chunks.append({"model": "m", "message": assistant(), "done": True, "eval_count": 4})
        return httpx.Response(200, content=b"\n".join(json.dumps(c).encode() for c in chunks))

    client = Client(transport=httpx.MockTransport(handler))
    stream = client.chat(
        "m", [{"role": "user", "content": "1+2"}], tools=[add], run_tools=True, stream=True
    )
    texts = "".join(chunk.message.content for chunk in stream)
    final = stream.final()
    assert texts == "The sum is 3." and final.message.content == "The sum is 3."
    assert rounds[1]["stream"] is True and rounds[1]["messages"][-1]["content"] == "3"
    assert final.messages and final.messages[-2].role == "tool"


# --------------------------------------------------------------------------- streamed rescue


def streaming(*pieces: str) -> tuple[Client, qwenkit.AsyncClient]:
    """Clients whose server streams `pieces` as content chunks, then the final chunk."""

    def body() -> bytes:
        chunks = [{"model": "m", "message": assistant(p), "done": False} for p in pieces]
        chunks.append({"model": "m", "message": assistant(), "done": True, "eval_count": 9})
        return b"\n".join(json.dumps(c).encode() for c in chunks)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return handler(request)

    sync = Client(transport=httpx.MockTransport(handler))
    return sync, qwenkit.AsyncClient(transport=httpx.MockTransport(ahandler))


def shown(chunks: list[Any]) -> list[tuple[str, list[str], bool]]:
    return [
        (c.message.content, [t.function.name for t in c.message.tool_calls or []], c.done)
        for c in chunks
    ]


TAGGED = (
    "Sure. ",
    "<tool",
    '_call>\n{"name": "add", ',
    '"arguments": {"a": 1, "b": 2}}',
    "\n</tool_call>",
)


def test_a_streamed_tool_call_is_held_back_and_comes_as_a_call_chunk() -> None:
    client, _ = streaming(*TAGGED)
    stream = client.chat("m", [{"role": "user", "content": "1+2"}], tools=[add], stream=True)
    chunks = list(stream)
    assert shown(chunks) == [("Sure. ", [], False), ("", ["add"], False), ("", [], True)]
    assert chunks[1].message.tool_calls[0].function.arguments == {"a": 1, "b": 2}
    final = stream.final()
    assert final.message.content == "Sure." and final.eval_count == 9
    assert final.message.tool_calls and final.message.tool_calls[0].function.name == "add"


def test_async_streams_hold_back_tool_calls_too() -> None:
    _, client = streaming(*TAGGED)

    async def run() -> list[Any]:
        stream = await client.chat("m", [], tools=[add], stream=True)
        return [chunk async for chunk in stream]

    assert shown(asyncio.run(run())) == [
        ("Sure. ", [], False),
        ("", ["add"], False),
        ("", [], True),
    ]


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        # a tag prefix that turns out to be other text is released as soon as that is clear
        (("a <to", "p> b"), [("a ", [], False), ("<top> b", [], False), ("", [], True)]),
        # held text that holds no call to an offered tool is released whole at the end
        (("<tool_call>", "oops"), [("<tool_call>oops", [], False), ("", [], True)]),
        (('{"x": ', "1}"), [('{"x": 1}', [], False), ("", [], True)]),
        # a bare call object, the whole answer
        (
            (" ", '{"name": "add", "arguments": {"a": 1, "b": 1}}'),
            [("", ["add"], False), ("", [], True)],
        ),
    ],
)
def test_held_text_is_never_lost(pieces: tuple[str, ...], expected: list[Any]) -> None:
    client, _ = streaming(*pieces)
    stream = client.chat("m", [], tools=[add], stream=True)
    chunks = list(stream)
    assert shown(chunks) == expected
    final = stream.final()
    if final.message.tool_calls is None:
        assert final.message.content == "".join(pieces)


def test_without_tools_nothing_is_held() -> None:
    client, _ = streaming(*TAGGED)
    stream = client.chat("m", [], stream=True)
    assert [c.message.content for c in stream][:5] == list(TAGGED)


# --------------------------------------------------------------------------- empty answers


def test_an_empty_answer_to_a_tool_request_says_what_probably_happened() -> None:
    client, _ = scripted(assistant(""))
    with pytest.warns(EmptyToolAnswerWarning, match=r"not offered \(offered: add\)"):
        reply = client.chat("m", [], tools=[add], run_tools=True)
    assert reply.message.content == ""


@pytest.mark.parametrize(
    ("answer", "tools"),
    [(assistant("4"), [add]), (assistant("", call("add", a=1, b=1)), [add]), (assistant(""), [])],
)
def test_no_warning_for_an_answer_or_without_tools(answer: dict[str, Any], tools: Any) -> None:
    client, _ = scripted(answer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.chat("m", [], tools=tools)
