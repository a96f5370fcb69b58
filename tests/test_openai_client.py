"""`OpenAIClient`: `Client.chat`'s flows against an OpenAI-compatible server (the fake vLLM)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

import qwenkit
from qwenkit import (
    AsyncOpenAIClient,
    ModelNotFoundError,
    OllamaUnavailableError,
    OpenAIClient,
    ProtocolError,
    ResponseError,
    TruncatedOutputError,
)
from qwenkit.client._openai_wire import openai_body, openai_messages
from qwenkit.client._requests import check
from qwenkit.types import ChatRequest, ChatResponse
from tests.fake_ollama import FakeOllama
from tests.fake_openai import FakeOpenAI, Reply

MODEL = "qwen2.5-7b-instruct"
ASK = [{"role": "user", "content": "Capital of Japan?"}]


class City(BaseModel):
    name: str
    country: str


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def fake():
    with FakeOpenAI(api_key="secret") as server:
        yield server


@pytest.fixture
def client(fake):
    with OpenAIClient(fake.base_url, api_key="secret") as c:
        yield c


def test_plain_chat_and_stream_give_the_same_types(client, fake):
    reply = client.chat(MODEL, ASK)
    assert isinstance(reply, ChatResponse) and reply.done and reply.done_reason == "stop"
    assert reply.message.content.startswith("Hello from the fake vLLM")
    assert reply.eval_count == 10 and reply.prompt_eval_count == 3
    stream = client.chat(MODEL, ASK, stream=True)
    texts = [chunk.message.content for chunk in stream]
    final = stream.final()
    assert "".join(texts) == reply.message.content == final.message.content
    assert final.eval_count == 10 and final.done
    sent = fake.chats[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert fake.requests[-1].headers["authorization"] == "Bearer secret"


def test_structured_output_uses_json_schema(client, fake):
    reply = client.chat(MODEL, ASK, response_model=City)
    assert reply.parsed == City(name="text", country="text")
    fmt = fake.chats[-1]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"
    assert fmt["json_schema"]["schema"]["required"] == ["name", "country"]
    streamed = client.chat(MODEL, ASK, response_model=City, stream=True).final()
    assert streamed.parsed == reply.parsed


def test_structured_reask_then_truncation(client, fake):
    fake.replies.extend(
        [Reply(text='{"name": "Tokyo"}'), Reply(text='{"name":"Tokyo","country":"JP"}')]
    )
    reply = client.chat(MODEL, ASK, response_model=City)
    assert reply.parsed == City(name="Tokyo", country="JP") and len(fake.chats) == 2
    assert "country" in fake.chats[-1]["messages"][-1]["content"]  # the re-ask names the error
    fake.replies.append(Reply(text='{"name": "Tok yo", "country": "J P"}'))
    with pytest.raises(TruncatedOutputError):
        client.chat(MODEL, ASK, response_model=City, options={"num_predict": 2})
    assert fake.chats[-1]["max_tokens"] == 2


def test_tools_run_with_ids_paired(client, fake):
    fake.replies.extend([Reply(tool_calls=[("add", {"a": 2, "b": 3})]), Reply(text="It is 5.")])
    reply = client.chat(MODEL, ASK, tools=[add], run_tools=True)
    assert reply.message.content == "It is 5."
    assert [m.role for m in reply.messages] == ["user", "assistant", "tool", "assistant"]
    second = fake.chats[-1]
    call = second["messages"][1]["tool_calls"][0]
    assert call["type"] == "function" and call["function"] == {
        "name": "add",
        "arguments": '{"a": 2, "b": 3}',
    }
    assert second["messages"][2] == {"role": "tool", "content": "5", "tool_call_id": call["id"]}
    assert second["tools"][0]["function"]["name"] == "add"


def test_streamed_tool_call_is_assembled(client, fake):
    fake.replies.append(Reply(tool_calls=[("add", {"a": 20, "b": 22})]))
    final = client.chat(MODEL, ASK, tools=[add], stream=True).final()
    (call,) = final.message.tool_calls
    assert call.function.name == "add" and call.function.arguments == {"a": 20, "b": 22}
    assert call.id.startswith("chatcmpl-tool-") and final.done_reason == "stop"


def test_options_map_to_openai_names_and_server_ones_stay_home(client, fake):
    options = {"temperature": 0.2, "top_k": 20, "repeat_penalty": 1.05, "num_ctx": 8192, "seed": 7}
    client.chat(MODEL, ASK, options=options)
    sent = fake.chats[-1]
    assert (sent["temperature"], sent["top_k"], sent["repetition_penalty"], sent["seed"]) == (
        0.2,
        20,
        1.05,
        7,
    )
    assert "num_ctx" not in sent and "options" not in sent
    with pytest.raises(qwenkit.types.InvalidRequestError):
        client.chat(MODEL, ASK, options={"num_ctxx": 1})  # checked before sending
    assert len(fake.chats) == 1


def test_messages_translation_pairs_tool_results_without_ids():
    out = openai_messages(
        [
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f"}}]},
            {"role": "tool", "content": "1", "tool_name": "f"},
        ]
    )
    assert out[0]["tool_calls"][0] == {
        "id": "call_0_0",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    assert out[1] == {"role": "tool", "content": "1", "tool_call_id": "call_0_0"}
    req = check(ChatRequest, {"model": "m", "messages": [], "format": "json"})
    assert openai_body(req)["response_format"] == {"type": "json_object"}


def test_errors_are_the_same_tree(fake):
    with OpenAIClient(fake.base_url, api_key="secret") as client:
        with pytest.raises(ModelNotFoundError) as missing:
            client.chat("nope", ASK)
        assert "Valid aliases" in str(missing.value) and "/models" in missing.value.hint
        fake.fail_next(500, "engine dead", "InternalServerError")
        with pytest.raises(ResponseError) as err:
            client.chat(MODEL, ASK, stream=True).final()
        assert err.value.status_code == 500 and "engine dead" in str(err.value)
        fake.stream_error_after = 3
        with pytest.raises(ResponseError) as mid:
            list(client.chat(MODEL, ASK, stream=True))
        assert mid.value.status_code == 200 and "engine failure" in str(mid.value)
        fake.stream_error_after, fake.cut_after = None, 3
        with pytest.raises(ProtocolError, match="ended before"):
            client.chat(MODEL, ASK, stream=True).final()
    with OpenAIClient(fake.base_url, api_key="wrong") as bad:
        with pytest.raises(ResponseError) as auth:
            bad.chat(MODEL, ASK)
        assert auth.value.status_code == 401 and "api_key" in auth.value.hint
    with pytest.raises(OllamaUnavailableError) as down:
        OpenAIClient("http://127.0.0.1:9/v1").chat(MODEL, ASK)
    assert "OpenAI-compatible" in str(down.value) and "deploy vllm" in down.value.hint


def test_key_from_environment_never_ollamas(fake, monkeypatch):
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-secret")
    monkeypatch.setenv("VLLM_API_KEY", "secret")
    with OpenAIClient(fake.base_url) as client:
        assert client.list().models[0].model == MODEL
    assert fake.requests[-1].headers["authorization"] == "Bearer secret"
    monkeypatch.delenv("VLLM_API_KEY")
    with OpenAIClient(fake.base_url) as client, pytest.raises(ResponseError):
        client.list()
    assert "authorization" not in fake.requests[-1].headers


def test_async_client_runs_the_same_flows(fake):
    async def go():
        async with AsyncOpenAIClient(fake.base_url, api_key="secret") as client:
            fake.replies.extend([Reply(tool_calls=[("add", {"a": 1, "b": 1})]), Reply(text="2")])
            reply = await client.chat(MODEL, ASK, tools=[add], run_tools=True)
            stream = await client.chat(MODEL, ASK, stream=True)
            text = "".join([c.message.content async for c in stream])
            parsed = (await client.chat(MODEL, ASK, response_model=City)).parsed
            return reply.message.content, text, parsed

    content, text, parsed = asyncio.run(go())
    assert content == "2" and text.startswith("Hello") and parsed.name == "text"


def _script(client, model):
    """A user's script: it runs unchanged against either engine."""
    fact = client.chat(model, ASK, response_model=City).parsed
    text = "".join(c.message.content for c in client.chat(model, ASK, stream=True))
    return type(fact), bool(text)


def test_one_script_either_engine():
    with FakeOllama() as ollama_fake, FakeOpenAI() as vllm_fake:
        ollama_fake.add_local_model(MODEL)
        with qwenkit.connect(ollama_fake.url) as laptop:
            assert isinstance(laptop, qwenkit.Client)
            on_ollama = _script(laptop, MODEL)
        with qwenkit.connect(vllm_fake.base_url) as team:
            assert isinstance(team, OpenAIClient)
            on_vllm = _script(team, MODEL)
    assert on_ollama == on_vllm == (City, True)
