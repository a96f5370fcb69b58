"""Code written for the official `ollama` client runs on qwenkit: its calls, its objects, its
errors, its module functions — checked on the wire (respx) and with the real `ollama` package."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
import respx

import qwenkit
from qwenkit import AsyncClient, Client
from qwenkit.errors import IncompleteAnswerError, InvalidRequestError, ResponseError
from qwenkit.types import ChatResponse, GenerateResponse, Logprob

BASE = "http://127.0.0.1:11434"
WEB = "https://ollama.com/api"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC"
)
PNG_B64 = base64.b64encode(PNG).decode()
REPLY = {"model": "m", "message": {"role": "assistant", "content": "ok"}, "done": True}
LOGPROBS = [
    {
        "token": "Hel",
        "logprob": -0.1,
        "bytes": [72, 101, 108],
        "top_logprobs": [{"token": "Hel", "logprob": -0.1}, {"token": "Hi", "logprob": -2.5}],
    }
]


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


def ndjson(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client():
    with Client() as c:
        yield c


# --------------------------------------------------------------------------- images


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    return path


def image_forms(png_file: Path) -> list[Any]:
    """Every way an `ollama` user may hold one image."""
    return [
        str(png_file),
        png_file,
        PNG,
        PNG_B64,
        ollama.Image(value=str(png_file)),
        ollama.Image(value=PNG),
        qwenkit.Image(value=png_file),
    ]


def test_images_in_any_form_are_sent_as_base64_in_chat_and_generate(
    api, client, png_file: Path
) -> None:
    chat = api.post("/api/chat").respond(json=REPLY)
    generate = api.post("/api/generate").respond(json={"response": "ok", "done": True})
    forms = image_forms(png_file)
    messages: list[Any] = [
        {"role": "user", "content": "dict", "images": forms},
        ollama.Message(role="user", content="ollama", images=[ollama.Image(value=png_file)]),
        qwenkit.Message(role="user", content="qwenkit", images=forms),
    ]
    client.chat("m", messages)
    assert [m["images"] for m in sent(chat)["messages"]] == [
        [PNG_B64] * len(forms),
        [PNG_B64],
        [PNG_B64] * len(forms),
    ]
    client.generate("m", "what is this?", images=forms)
    assert sent(generate)["images"] == [PNG_B64] * len(forms)


@pytest.mark.parametrize(
    ("image", "text"),
    [
        ("/nowhere/missing.png", "image file /nowhere/missing.png does not exist"),
        ("not base64!", "invalid image data"),
        (ollama.Image(value="invalid_base64"), "invalid image data"),
        (3.14, "cannot send float as an image"),
    ],
)
def test_a_bad_image_fails_before_sending_as_a_value_error(api, client, image, text) -> None:
    route = api.post("/api/generate").respond(json={"done": True})
    with pytest.raises(ValueError, match=text) as info:
        client.generate("m", "x", images=[image])
    assert isinstance(info.value, InvalidRequestError) and info.value.hint
    with pytest.raises(InvalidRequestError, match=text):
        client.chat("m", [{"role": "user", "content": "x", "images": [image]}])
    assert not route.called


# --------------------------------------------------------------------------- new calls


def test_push_as_pull(api, client) -> None:
    route = api.post("/api/push").respond(json={"status": "success"})
    assert client.push("user/m").status == "success"
    assert sent(route) == {"model": "user/m", "insecure": False, "stream": False}
    api.post("/api/push").respond(
        content=ndjson({"status": "retrieving manifest"}, {"status": "success"})
    )
    assert [p.status for p in client.push("user/m", stream=True)] == [
        "retrieving manifest",
        "success",
    ]


def test_push_error_line_is_a_response_error(api, client) -> None:
    api.post("/api/push").respond(
        content=ndjson({"status": "retrieving manifest"}, {"error": "open x: no such file"})
    )
    with pytest.raises(ResponseError, match="no such file") as info:
        list(client.push("x", stream=True))
    assert info.value.error == "open x: no such file"


def test_embeddings_the_older_call(api, client) -> None:
    route = api.post("/api/embeddings").respond(json={"embedding": [0.5, -0.25]})
    reply = client.embeddings("m", "hello", options=ollama.Options(num_ctx=512), keep_alive="5m")
    assert reply.embedding == [0.5, -0.25] and reply["embedding"] == [0.5, -0.25]
    assert sent(route) == {
        "model": "m",
        "prompt": "hello",
        "options": {"num_ctx": 512},
        "keep_alive": "5m",
    }


def test_logprobs_are_asked_for_and_typed(api, client) -> None:
    chat = api.post("/api/chat").respond(json={**REPLY, "logprobs": LOGPROBS})
    reply = client.chat("m", [{"role": "user", "content": "hi"}], logprobs=True, top_logprobs=2)
    assert sent(chat)["logprobs"] is True and sent(chat)["top_logprobs"] == 2
    assert isinstance(reply.logprobs[0], Logprob)
    assert reply.logprobs[0].top_logprobs[1].token == "Hi"
    assert reply["logprobs"][0]["top_logprobs"][1]["token"] == "Hi"
    assert reply.logprobs[0].bytes == [72, 101, 108]
    answer = {"response": "x", "done": True, "logprobs": LOGPROBS}
    generate = api.post("/api/generate").respond(json=answer)
    reply = client.generate("m", "hi", logprobs=True, top_logprobs=0)
    assert sent(generate)["top_logprobs"] == 0 and reply.logprobs[0].logprob == -0.1


def test_top_logprobs_out_of_range_fails_as_the_server_would(api, client) -> None:
    route = api.post("/api/chat").respond(json=REPLY)
    with pytest.raises(InvalidRequestError, match="top_logprobs"):
        client.chat("m", [{"role": "user", "content": "hi"}], logprobs=True, top_logprobs=21)
    assert not route.called


def test_streamed_logprobs_are_typed_and_merged(api, client) -> None:
    second = [{"token": "lo", "logprob": -0.3}]
    api.post("/api/chat").respond(
        content=ndjson(
            {"message": {"role": "assistant", "content": "Hel"}, "logprobs": LOGPROBS},
            {"message": {"role": "assistant", "content": "lo"}, "logprobs": second},
            {**REPLY, "message": {"role": "assistant", "content": ""}},
        )
    )
    stream = client.chat("m", [{"role": "user", "content": "hi"}], stream=True, logprobs=True)
    first = next(stream)
    assert isinstance(first.logprobs[0], Logprob) and first.logprobs[0].token == "Hel"
    final = stream.final()
    assert [lp.token for lp in final.logprobs] == ["Hel", "lo"]


def test_image_generation_options_and_answers(api, client) -> None:
    route = api.post("/api/generate").respond(
        content=ndjson(
            {"model": "img", "completed": 1, "total": 2, "done": False},
            {"model": "img", "image": PNG_B64, "done": True, "done_reason": "stop"},
        )
    )
    parts = list(client.generate("img", "a sunset", stream=True, width=64, height=32, steps=2))
    assert {k: sent(route)[k] for k in ("width", "height", "steps")} == {
        "width": 64,
        "height": 32,
        "steps": 2,
    }
    assert (parts[0].completed, parts[0].total, parts[-1].image) == (1, 2, PNG_B64)
    api.post("/api/generate").respond(json={"model": "img", "image": PNG_B64, "done": True})
    reply = client.generate("img", "a sunset", width=64, height=32)
    assert isinstance(reply, GenerateResponse) and reply.image == PNG_B64


def test_create_parameters_the_server_does_not_know_are_sent(api, client) -> None:
    route = api.post("/api/create").respond(json={"status": "success"})
    client.create("x", from_="y", parameters={"stop": ["[INST]"], "pi": 3.14159})
    assert sent(route)["parameters"] == {"stop": ["[INST]"], "pi": 3.14159}


def test_but_options_typos_are_still_caught(api, client) -> None:
    with pytest.raises(InvalidRequestError, match="did you mean 'temperature'"):
        client.chat("m", [{"role": "user", "content": "hi"}], options={"temperatur": 0.1})


def test_an_ollama_option_that_ollama_no_longer_reads_says_so(api, client) -> None:
    with pytest.raises(InvalidRequestError, match="'mirostat' is no longer used by Ollama"):
        client.chat("m", [{"role": "user", "content": "hi"}], options=ollama.Options(mirostat=1))


# --------------------------------------------------------------------------- web API


def test_web_calls_need_a_bearer_key_and_say_so_in_ollamas_words(client) -> None:
    with pytest.raises(ValueError, match="Bearer token is required for web search"):
        client.web_search("what is ollama?")
    with pytest.raises(ValueError, match="Bearer token is required for web fetch"):
        client.web_fetch("https://example.com")


def test_web_search_and_fetch_with_the_key_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "env-key")
    with respx.mock(assert_all_called=True) as web:
        search = web.post(f"{WEB}/web_search").respond(
            json={"results": [{"title": "Ollama", "url": "https://ollama.com", "content": "x"}]}
        )
        fetch = web.post(f"{WEB}/web_fetch").respond(
            json={"title": "Example", "content": "text", "links": ["https://iana.org"]}
        )
        client = Client()
        found = client.web_search("what is ollama?", max_results=2)
        page = client.web_fetch("https://example.com")
    assert sent(search) == {"query": "what is ollama?", "max_results": 2}
    assert search.calls[0].request.headers["authorization"] == "Bearer env-key"
    assert found.results[0].title == "Ollama" and found["results"][0]["url"]
    assert sent(fetch) == {"url": "https://example.com"}
    assert (page.title, page.links) == ("Example", ["https://iana.org"])


def test_an_explicit_bearer_header_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "env-key")
    with respx.mock() as web:
        route = web.post(f"{WEB}/web_search").respond(json={"results": []})
        Client(headers={"authorization": "Bearer mine"}).web_search("q")
    assert route.calls[0].request.headers.get_list("authorization") == ["Bearer mine"]


def test_web_errors_name_ollama_com_not_the_local_server(monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "bad")
    with respx.mock() as web:
        web.post(f"{WEB}/web_search").respond(401, json={"error": "unauthorized"})
        with pytest.raises(ResponseError) as info:
            Client().web_search("q")
    assert info.value.status_code == 401 and info.value.host == "https://ollama.com"


# --------------------------------------------------------------------------- the client itself


def test_content_type_is_forced_and_other_headers_kept(api) -> None:
    route = api.get("/api/tags").respond(json={"models": []})
    Client(headers={"Content-Type": "text/plain", "X-Custom": "v"}).list()
    headers = route.calls[0].request.headers
    assert headers["content-type"] == "application/json" and headers["x-custom"] == "v"


def test_httpx_keyword_arguments_reach_httpx() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(307, headers={"location": "/moved/api/version"})
        return httpx.Response(200, json={"version": "9"})

    transport = httpx.MockTransport(handler)
    assert Client(transport=transport).version() == "9"  # redirects followed, as in `ollama`
    hooks = {"request": [lambda request: seen.append(request.url.path)]}
    client = Client(transport=transport, follow_redirects=False, event_hooks=hooks, verify=False)
    with pytest.raises(qwenkit.ProtocolError):  # the 307 itself is no version answer
        client.version()
    assert seen == ["/api/version"]


def test_response_errors_carry_ollamas_attributes(api, client) -> None:
    api.post("/api/chat").respond(500, json={"error": "llama runner crashed"})
    with pytest.raises(ResponseError) as info:
        client.chat("m", [{"role": "user", "content": "hi"}])
    assert (info.value.error, info.value.status_code) == ("llama runner crashed", 500)
    assert str(info.value) == "llama runner crashed (status code: 500)"  # as ollama's
    assert ResponseError("gone").status_code == -1


def test_ollama_objects_from_a_reply_go_back_in(api, client) -> None:
    """An `ollama` response's message (with tool calls) is a message qwenkit sends."""
    reply = ollama.ChatResponse.model_validate(
        {
            "model": "m",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}],
            },
        }
    )
    route = api.post("/api/chat").respond(json=REPLY)
    tool = ollama.Tool(
        function=ollama.Tool.Function(
            name="add",
            description="Add two numbers",
            parameters=ollama.Tool.Function.Parameters(
                properties={"a": {"type": "integer"}, "b": {"type": "integer"}},
                required=["a", "b"],
            ),
        )
    )
    client.chat(
        "m",
        [reply.message, ollama.Message(role="tool", content="3", tool_name="add")],
        tools=[tool],
        options=ollama.Options(temperature=0.0, seed=1),
    )
    body = sent(route)
    assert body["messages"][0]["tool_calls"] == [
        {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}
    ]
    assert body["messages"][1] == {"role": "tool", "content": "3", "tool_name": "add"}
    assert body["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]
    assert body["options"] == {"temperature": 0.0, "seed": 1}


def test_show_reads_modelinfo_by_ollamas_name_too(api, client) -> None:
    api.post("/api/show").respond(json={"model_info": {"general.architecture": "qwen2"}})
    reply = client.show("m")
    assert reply.modelinfo == reply["modelinfo"] == {"general.architecture": "qwen2"}


def test_a_reply_without_done_is_whole_but_an_explicit_done_false_is_cut(api, client) -> None:
    """Ollama sends `"done": false` when the runner gave up; a body with no `done` key (the
    `ollama` client's test server sends those) is read as `ollama` reads it."""
    api.post("/api/chat").respond(json={"model": "m", "message": {"role": "assistant"}})
    assert client.chat("m", [{"role": "user", "content": "hi"}]).message.role == "assistant"
    api.post("/api/generate").respond(json={"model": "m", "response": "whole"})
    assert client.generate("m", "hi").response == "whole"
    api.post("/api/generate").respond(json={"model": "m", "response": "ha", "done": False})
    with pytest.raises(IncompleteAnswerError):
        client.generate("m", "hi")


def test_stream_parts_read_like_ollamas(api, client) -> None:
    api.post("/api/chat").respond(
        content=ndjson(
            {"model": "m", "message": {"role": "assistant", "content": "I "}, "done": False},
            {**REPLY, "message": {"role": "assistant", "content": "know."}},
        )
    )
    parts = client.chat("m", [{"role": "user", "content": "?"}], stream=True)
    assert [p["message"]["content"] for p in parts] == ["I ", "know."]


# --------------------------------------------------------------------------- async


@pytest.mark.anyio
async def test_async_client_closes_by_both_names_and_has_the_new_calls(png_file: Path) -> None:
    with respx.mock(base_url=BASE) as api:
        push = api.post("/api/push").respond(json={"status": "success"})
        generate = api.post("/api/generate").respond(json={"response": "ok", "done": True})
        api.post("/api/embeddings").respond(json={"embedding": [1.0]})
        client = AsyncClient()
        assert (await client.push("u/m")).status == "success" and sent(push)["model"] == "u/m"
        await client.generate("m", "?", images=[png_file, ollama.Image(value=PNG)])
        assert sent(generate)["images"] == [PNG_B64, PNG_B64]
        assert (await client.embeddings("m", "x")).embedding == [1.0]
        await client.close()
        await client.aclose()  # both names, any number of times
    with pytest.raises(ValueError, match="Bearer token is required for web fetch"):
        await AsyncClient().web_fetch("https://example.com")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------- module functions


def test_module_functions_are_a_default_clients_calls(api) -> None:
    route = api.post("/api/chat").respond(json=REPLY)
    api.post("/api/pull").respond(json={"status": "success"})
    api.get("/api/tags").respond(json={"models": [{"name": "m", "model": "m"}]})
    reply = qwenkit.chat(model="m", messages=[{"role": "user", "content": "hi"}])
    assert isinstance(reply, ChatResponse) and sent(route)["model"] == "m"
    assert qwenkit.pull("m").status == "success"  # a call, not a submodule
    assert qwenkit.list().models[0].model == "m"
    assert qwenkit.chat.__self__ is qwenkit.client.default_client()
    assert qwenkit.RequestError is InvalidRequestError


def test_ollama_code_runs_with_qwenkit_imported_as_ollama(tmp_path: Path) -> None:
    """The README pattern `except ollama.ResponseError as e: print(e.error)`, the types it
    imports by name, and no `ollama` import on qwenkit's own path."""
    script = """
import sys
import qwenkit as ollama
from qwenkit import ChatResponse, Message, Options, ResponseError
import httpx, respx
with respx.mock(base_url="http://127.0.0.1:11434") as api:
    api.post("/api/chat").respond(404, json={"error": "model 'nope' not found"})
    try:
        ollama.chat("nope", [Message(role="user", content="hi", images=[b"x"])])
    except ollama.ResponseError as e:
        print("error:", e.error, e.status_code)
assert "ollama" not in sys.modules, "qwenkit imported ollama"
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "error: model 'nope' not found 404"


def test_building_a_client_defines_no_models() -> None:
    """The pydantic models are built on the first call, not by `qwenkit.Client`
    (the start-up goal in benchmarks/bench_import_instructions.py)."""
    code = (
        "import sys, qwenkit; qwenkit.Client(); qwenkit.AsyncClient()\n"
        "print(sorted(m for m in ('qwenkit.types', 'qwenkit.options', 'qwenkit.client._requests')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
