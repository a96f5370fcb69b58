"""Tool calling and JSON through a real Ollama, with models scripted to answer exactly.

The whole path runs for real: qwenkit's template renders the prompt, the scripted model emits
`<tool_call>{…}</tool_call>`, Ollama's own parser turns it into `tool_calls`, and qwenkit's
types and tool loop take it from there. See `scripted_gguf.py` for how a model is scripted.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gguf import LlamaFileType
from pydantic import BaseModel

from qwenkit.catalog import STOP_TOKENS
from qwenkit.client import AsyncClient, Client
from qwenkit.client.tools import EmptyToolAnswerWarning
from qwenkit.errors import ToolRoundsError
from qwenkit.setup.verify import ANSWER_TOKENS, KEPT_CHARS, check_json, check_tools
from qwenkit.variants import QWEN25_TEMPLATE, VARIANTS
from tests.e2e.harness import run_qwenkit
from tests.live.conftest import BASE_TAG, LiveModels, create
from tests.live.scripted_gguf import (
    OK_JSON,
    TIME_CALL,
    UNCLOSED_JSON,
    WEATHER_CALL,
    WEATHER_JSON,
    scripted_qwen2,
)

pytestmark = pytest.mark.live

QWEN = {"template": QWEN25_TEMPLATE, "parameters": {"stop": list(STOP_TOKENS)}}
#: the library qwen2.5 template's tools line, as Ollama's own template would print a tool
LIBRARY_TEMPLATE = QWEN25_TEMPLATE.replace("{{ json .Function }}", "{{ .Function }}")

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def rendered_tools(host: str, model: str, tools: list[dict[str, Any]]) -> list[str]:
    """The lines between <tools> and </tools> of the prompt the server would send."""
    answer = httpx.post(
        f"{host}/api/chat",
        json={
            "model": model,
            "messages": [{"role": "user", "content": "Weather in Beijing?"}],
            "tools": tools,
            "stream": False,
            "_debug_render_only": True,
        },
        timeout=60,
    )
    answer.raise_for_status()
    prompt = answer.json()["_debug_info"]["rendered_template"]
    block = re.search(r"<tools>\n(.*?)\n</tools>", prompt, re.S)
    assert block, prompt
    return block.group(1).splitlines()


def unload(host: str, model: str) -> None:
    httpx.post(f"{host}/api/generate", json={"model": model, "keep_alive": 0}, timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _unload_scripted(live_host: str) -> Iterator[None]:
    """Leave no runner of this module's models loaded for the next module."""
    yield
    rendered = [f"render-{variant}" for variant in VARIANTS]  # rendering loads them too
    for name in ("weather", "untagged", "endless", "library", *rendered):
        unload(live_host, f"qwenkit-live-{name}")


# --------------------------------------------------------------------------- templates


@pytest.fixture(scope="module")
def variant_models(live_host: str, live_models: LiveModels) -> dict[str, str]:
    """Every variant created from the Modelfile qwenkit writes for it (long: the tiny GGUF
    with the template setup would give it, repaired from the base's)."""
    names = {}
    with Client(live_host) as client:
        base_template = client.show(BASE_TAG).template
        for variant in VARIANTS:
            name = f"qwenkit-live-render-{variant}"
            mf = VARIANTS[variant].build(
                "q4_K_M", 8192, **({"gguf": "tiny.gguf", "template": base_template}
                                   if variant == "long" else {})
            )  # fmt: skip
            client.create_from_modelfile(name, mf, base_dir=live_models.gguf_dir)
            names[variant] = name
    return names


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_renders_tool_schemas_as_json(live_host, variant_models, variant):
    [line] = rendered_tools(live_host, variant_models[variant], [WEATHER_TOOL])
    tool = json.loads(line)
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "get_weather"
    assert function["description"] == "Current weather in a city."
    assert function["parameters"]["required"] == ["city"]
    assert function["parameters"]["properties"]["city"]["type"] == "string"


def test_the_library_templates_bare_function_renders_go_struct_text(live_host, live_models):
    """Why the variants carry their own template: what the server's qwen2.5 template
    (`{{ .Function }}`) makes of a tool on this server."""
    create(live_host, "qwenkit-live-library", live_models.gguf_dir / "tiny.gguf",
           template=LIBRARY_TEMPLATE)  # fmt: skip
    [line] = rendered_tools(live_host, "qwenkit-live-library", [WEATHER_TOOL])
    assert line.startswith('{"type": "function", "function": {get_weather Current weather')
    with pytest.raises(ValueError):
        json.loads(line)


# --------------------------------------------------------------------------- scripted models


@pytest.fixture(scope="module")
def weather(live_host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A model that calls get_weather(city="Beijing"), or answers WEATHER_JSON under a
    JSON grammar."""
    gguf = scripted_qwen2(
        tmp_path_factory.mktemp("scripted") / "weather.gguf", WEATHER_CALL, fallback=WEATHER_JSON
    )
    create(live_host, "qwenkit-live-weather", gguf, **QWEN)
    return "qwenkit-live-weather"


def test_the_scripted_call_comes_back_parsed_by_the_server(live_host: str, weather: str):
    with Client(live_host) as client:
        reply = client.chat(weather, [{"role": "user", "content": "Hi"}], tools=[WEATHER_TOOL])
    [call] = reply.message.tool_calls or []
    assert (call.function.name, call.function.arguments) == ("get_weather", {"city": "Beijing"})
    assert reply.message.content == "" and reply.done_reason == "stop"


def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: City name
    """
    CITIES.append(city)
    return f"{city}: 21 C, sunny"


CITIES: list[str] = []
ASK = [{"role": "user", "content": "Weather in Beijing?"}]


@pytest.fixture
def cities() -> list[str]:
    CITIES.clear()
    return CITIES


def assert_two_rounds_ran(err: ToolRoundsError, cities: list[str]) -> None:
    """The scripted model calls get_weather every round, so the limit is always reached:
    the function ran once per round, and the transcript holds every result."""
    assert cities == ["Beijing", "Beijing"]
    roles = [m.role for m in err.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [m.content for m in err.messages if m.role == "tool"] == ["Beijing: 21 C, sunny"] * 2
    [last] = err.response.message.tool_calls or []
    assert last.function.arguments == {"city": "Beijing"} and last.id


def test_run_tools_runs_the_parsed_call_each_round(live_host, weather, cities):
    with Client(live_host) as client, pytest.raises(ToolRoundsError) as err:
        client.chat(weather, ASK, tools=[get_weather], run_tools=True, max_tool_rounds=2)
    assert_two_rounds_ran(err.value, cities)


def test_run_tools_async(live_host, weather, cities):
    async def aget_weather(city: str) -> str:
        """Current weather in a city."""
        await asyncio.sleep(0)
        return get_weather(city)

    aget_weather.__name__ = "get_weather"

    async def run() -> None:
        async with AsyncClient(live_host) as client:
            await client.chat(weather, ASK, tools=[aget_weather], run_tools=True,
                              max_tool_rounds=2)  # fmt: skip

    with pytest.raises(ToolRoundsError) as err:
        asyncio.run(run())
    assert_two_rounds_ran(err.value, cities)


def test_run_tools_streamed(live_host, weather, cities):
    chunks = []
    with Client(live_host) as client, pytest.raises(ToolRoundsError) as err:
        stream = client.chat(weather, ASK, tools=[get_weather], run_tools=True,
                             max_tool_rounds=2, stream=True)  # fmt: skip
        chunks.extend(stream)
    assert_two_rounds_ran(err.value, cities)
    calls = [c for c in chunks if c.message.tool_calls]
    assert len(calls) == 3 and all(not c.message.content for c in chunks)
    assert sum(1 for c in chunks if c.done) == 3  # every round streams to its end


def test_zero_rounds_returns_the_servers_call_unrun(live_host, weather, cities):
    with Client(live_host) as client:
        reply = client.chat(weather, ASK, tools=[get_weather], run_tools=True, max_tool_rounds=0)
    [call] = reply.message.tool_calls or []
    assert call.function.name == "get_weather" and cities == []


def test_an_argument_error_reaches_the_models_prompt(live_host, weather):
    def get_weather(city: int) -> str:  # the model sends "Beijing": not an int
        """Current weather in a city."""
        raise AssertionError("never called with invalid arguments")

    with Client(live_host) as client, pytest.raises(ToolRoundsError) as err:
        client.chat(weather, ASK, tools=[get_weather], run_tools=True, max_tool_rounds=1)
    [result] = [m for m in err.value.messages if m.role == "tool"]
    assert result.content.startswith("error: invalid arguments for get_weather: city:")
    # what the model read in round two: the error inside <tool_response>, as a user turn
    history = [m.model_dump(exclude_none=True) for m in err.value.messages[:-1]]
    rendered = httpx.post(
        f"{live_host}/api/chat",
        json={"model": weather, "messages": history, "stream": False, "_debug_render_only": True},
        timeout=60,
    ).json()["_debug_info"]["rendered_template"]
    assert f"<|im_start|>user\n<tool_response>\n{result.content}\n</tool_response>" in rendered


class Weather(BaseModel):
    city: str
    temp_c: int


def test_response_model_is_filled_from_the_json_script(live_host, weather):
    with Client(live_host) as client:
        reply = client.chat(weather, ASK, response_model=Weather)
        streamed = client.chat(weather, ASK, response_model=Weather, stream=True).final()
    assert reply.parsed == Weather(city="Beijing", temp_c=21) == streamed.parsed
    assert reply.message.content == WEATHER_JSON


# --------------------------------------------------------------------------- defects


def test_a_call_to_a_tool_not_offered_is_dropped_and_qwenkit_says_so(live_host, weather):
    """Ollama drops the get_weather call when only get_time is offered: empty answer."""
    other = {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string"}}}}}  # fmt: skip
    raw = httpx.post(f"{live_host}/api/chat", json={"model": weather, "messages": ASK,
                     "tools": [other], "stream": False}, timeout=60).json()  # fmt: skip
    assert raw["message"]["content"] == "" and "tool_calls" not in raw["message"]
    assert raw["done_reason"] == "stop"
    with Client(live_host) as client:
        with pytest.warns(EmptyToolAnswerWarning, match=r"offered: get_time"):
            reply = client.chat(weather, ASK, tools=[other])
        assert reply.message.content == "" and not reply.message.tool_calls
        check = check_tools(client, weather)  # offers get_current_time: dropped as well
    assert check.status == "fail" and "empty answer" in check.detail
    assert "not offered" in (check.hint or "") and "TEMPLATE" not in (check.hint or "")


def test_the_json_check_is_capped_and_clipped_on_a_model_that_never_closes(
    live_host, tmp_path_factory
):
    gguf = scripted_qwen2(tmp_path_factory.mktemp("endless") / "endless.gguf", UNCLOSED_JSON,
                          endless=True)  # fmt: skip
    create(live_host, "qwenkit-live-endless", gguf, **QWEN)
    with Client(live_host) as client:
        check = check_json(client, "qwenkit-live-endless")
    assert check.status == "fail"
    assert check.detail.startswith(f"cut at {ANSWER_TOKENS} tokens, JSON not closed")
    assert check.data["done_reason"] == "length" and check.data["eval_count"] == ANSWER_TOKENS
    assert check.data["content"] == (UNCLOSED_JSON + "xxxxyyyy" * 99)[:KEPT_CHARS]


@pytest.fixture(scope="module")
def untagged(live_host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The weather model under a template whose tool-call tag is not <tool_call>: the
    server does not recognise the call and streams the markup as text."""
    template = QWEN25_TEMPLATE.replace("{{- else if .ToolCalls }}<tool_call>",
                                       "{{- else if .ToolCalls }}<function_call>")  # fmt: skip
    assert template != QWEN25_TEMPLATE
    gguf = scripted_qwen2(tmp_path_factory.mktemp("untagged") / "w.gguf", WEATHER_CALL)
    create(live_host, "qwenkit-live-untagged", gguf, template=template,
           parameters={"stop": list(STOP_TOKENS)})  # fmt: skip
    return "qwenkit-live-untagged"


def test_streamed_tool_call_markup_is_held_back(live_host, untagged):
    with httpx.stream("POST", f"{live_host}/api/chat", json={"model": untagged,
                      "messages": ASK, "tools": [WEATHER_TOOL]}, timeout=60) as raw:  # fmt: skip
        texts = [json.loads(line)["message"]["content"] for line in raw.iter_lines() if line]
    assert "".join(texts) == WEATHER_CALL and len(texts) > 5  # the server passes it as text
    with Client(live_host) as client:
        stream = client.chat(untagged, ASK, tools=[get_weather], stream=True)
        chunks = list(stream)
        final = stream.final()
    assert all("<tool" not in c.message.content and "{" not in c.message.content for c in chunks)
    [held] = [c for c in chunks if c.message.tool_calls]
    assert held.message.tool_calls[0].function.arguments == {"city": "Beijing"}
    assert final.message.tool_calls and final.message.content == ""


# --------------------------------------------------------------------------- qwenkit setup


def test_setup_verification_passes_its_json_and_tools_checks(live_host, live_models, tmp_path):
    """`qwenkit setup` on a base that calls get_current_time, or answers JSON under the
    JSON grammar: every check passes, the JSON and tools ones included."""
    base = scripted_qwen2(tmp_path / "base.gguf", TIME_CALL, fallback=OK_JSON,
                          file_type=LlamaFileType.MOSTLY_Q4_K_M)  # fmt: skip
    create(live_host, BASE_TAG, base, **QWEN)
    prefix = "qwenkit-live-scripted"
    try:
        done = run_qwenkit("setup", "--yes", "--json", "--host", live_host, "--out",
                           str(tmp_path / "modelfiles"), "--variants", "json,agent",
                           "--ctx", "8192", "--prefix", prefix)  # fmt: skip
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        checks = {(e["name"], e["model"]): e for e in events if e.get("event") == "check"}
        assert checks, done.stderr[-3000:]
        json_check = checks[("json", f"{prefix}-json")]
        tools_check = checks[("tools", f"{prefix}-agent")]
        assert json_check["status"] == "pass", json_check
        assert json.loads(json_check["data"]["content"]) == {"ok": True, "name": "qwenkit"}
        assert tools_check["status"] == "pass", tools_check
        assert tools_check["detail"] == "tool calls: get_current_time"
        assert {c["status"] for c in checks.values()} == {"pass"}, checks
        assert done.returncode == 0
    finally:  # a runner left loaded would serve the next model with the same GGUF
        create(live_host, BASE_TAG, live_models.gguf_dir / "seed.gguf", **QWEN)
        for variant in ("json", "agent"):
            unload(live_host, f"{prefix}-{variant}")
            model = {"model": f"{prefix}-{variant}"}
            httpx.request("DELETE", f"{live_host}/api/delete", json=model)
