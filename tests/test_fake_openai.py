"""The fake vLLM server answers in vLLM's shapes (checked here with plain httpx)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, Reply, schema_instance

MODEL = "qwen2.5-7b-instruct"


@pytest.fixture
def fake():
    with FakeOpenAI(api_key="k") as server:
        yield server


def _post(fake, body, key="k"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{fake.base_url}/chat/completions", json=body, headers=headers)


def _events(response):
    return [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]


def test_models_list_and_auth(fake):
    assert httpx.get(f"{fake.base_url}/models").status_code == 401
    assert httpx.get(f"{fake.base_url}/models").json() == {"error": "Unauthorized"}
    body = httpx.get(f"{fake.base_url}/models", headers={"Authorization": "Bearer k"}).json()
    assert body["object"] == "list" and body["data"][0]["id"] == MODEL
    assert body["data"][0]["owned_by"] == "vllm" and body["data"][0]["max_model_len"] == 32768
    assert httpx.get(f"{fake.url}/health").status_code == 200  # not under /v1: no key


def test_non_stream_completion(fake):
    r = _post(fake, {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert "tool_calls" not in choice["message"] and choice["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 10


def test_stream_with_usage_then_done(fake):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    r = _post(fake, {**body, "stream_options": {"include_usage": True}})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 10
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.startswith("Hello from the fake vLLM")
    plain = _events(_post(fake, body))
    assert all("usage" not in json.loads(e) for e in plain[:-1])


def test_json_schema_answer_is_an_instance(fake):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["name", "n"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "City", "schema": schema}}
    r = _post(fake, {"model": MODEL, "messages": [], "response_format": fmt})
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"name": "text", "n": 1}
    bad = _post(fake, {"model": MODEL, "messages": [], "response_format": {"type": "json_schema"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "response_format"


def test_tool_calls_in_hermes_shape(fake):
    tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    fake.replies.append(Reply(tool_calls=[("add", {"a": 1, "b": 2})]))
    r = _post(fake, {"model": MODEL, "messages": [], "tools": tools}).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("chatcmpl-tool-") and call["type"] == "function"
    assert call["function"] == {"name": "add", "arguments": '{"a": 1, "b": 2}'}
    fake.replies.append(Reply(tool_calls=[("add", {"a": 3})]))
    events = _events(_post(fake, {"model": MODEL, "messages": [], "tools": tools, "stream": True}))
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1]]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0]["id"].startswith("chatcmpl-tool-") and calls[0]["function"] == {"name": "add"}
    assert "".join(c["function"].get("arguments", "") for c in calls) == '{"a": 3}'
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "tool_calls"


def test_errors_in_vllm_shape(fake):
    r = _post(fake, {"model": "nope", "messages": []})
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": f"The model `nope` does not exist. Valid aliases: {MODEL}.",
        "type": "NotFoundError",
        "param": "model",
        "code": 404,
    }
    fake.fail_next(503, "overloaded", "ServiceUnavailableError")
    assert _post(fake, {"model": MODEL, "messages": []}).json()["error"]["code"] == 503
    fake.stream_error_after = 2
    events = _events(_post(fake, {"model": MODEL, "messages": [], "stream": True}))
    assert json.loads(events[-2])["error"]["type"] == "InternalServerError"
    assert events[-1] == "[DONE]"


def test_length_limit_and_cut_stream(fake):
    r = _post(fake, {"model": MODEL, "messages": [], "max_tokens": 3}).json()
    assert r["choices"][0]["finish_reason"] == "length"
    assert r["choices"][0]["message"]["content"] == "Hello from the "
    fake.cut_after = 3
    events = _events(_post(fake, {"model": MODEL, "messages": [], "stream": True}))
    assert len(events) == 3 and "[DONE]" not in events


def test_schema_instance_follows_refs_and_unions():
    schema = {
        "$defs": {"Inner": {"type": "object", "properties": {"x": {"enum": ["a", "b"]}}}},
        "type": "object",
        "properties": {
            "inner": {"$ref": "#/$defs/Inner"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "number"}]},
            "items": {"type": "array", "items": {"type": "boolean"}},
        },
    }
    assert schema_instance(schema, schema["$defs"]) == {
        "inner": {"x": "a"},
        "maybe": 1.5,
        "items": [True],
    }
