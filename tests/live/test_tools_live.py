"""Tool calling and JSON through a real Ollama, with models scripted to answer exactly.

The whole path runs for real: qwenkit's template renders the prompt, the scripted model emits
`<tool_call>{…}</tool_call>`, Ollama's own parser turns it into `tool_calls`, and qwenkit's
types and tool loop take it from there. See `scripted_gguf.py` for how a model is scripted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from qwenkit.catalog import STOP_TOKENS
from qwenkit.client import Client
from qwenkit.variants import QWEN25_TEMPLATE, VARIANTS
from tests.live.conftest import BASE_TAG, LiveModels, create
from tests.live.scripted_gguf import WEATHER_CALL, WEATHER_JSON, scripted_qwen2

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
