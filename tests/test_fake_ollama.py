"""The fake Ollama server behaves as ollama-api.md describes (checked over real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.fake_ollama import FakeOllama, Reply

Q4 = "qwen2.5:7b-instruct-q4_K_M"
Q4_SIZE = 4_683_073_952
JSON_TYPE = "application/json; charset=utf-8"


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    server = FakeOllama(version="0.12.11", trained_ctx=32768)
    server.add_library()
    with server:
        yield server


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5) as http:
        yield http


def lines(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def create(client: httpx.Client, **body) -> httpx.Response:
    return client.post("/api/create", json=body)


# -- root, version, tags -----------------------------------------------------------------


def test_root_answers_text_for_get_and_head(client: httpx.Client) -> None:
    got = client.get("/")
    assert (got.status_code, got.text) == (200, "Ollama is running")
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    head = client.head("/")
    assert head.status_code == 200 and head.content == b""


def test_version_reports_configured_version() -> None:
    with FakeOllama(version="0.9.2") as fake:
        got = httpx.get(fake.url + "/api/version")
    assert got.json() == {"version": "0.9.2"}
    assert got.headers["content-type"] == JSON_TYPE


def test_tags_lists_local_models_with_details(fake: FakeOllama, client: httpx.Client) -> None:
    assert client.get("/api/tags").json() == {"models": []}
    fake.add_local_model(Q4)
    (entry,) = client.get("/api/tags").json()["models"]
    assert entry["name"] == entry["model"] == Q4
    assert entry["size"] > Q4_SIZE  # model layer plus template and license layers
    assert len(entry["digest"]) == 64
    assert entry["details"] == {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "7.6B",
        "quantization_level": "Q4_K_M",
    }


def test_unknown_route_is_a_plain_404(client: httpx.Client) -> None:
    got = client.get("/api/nothing")
    assert (got.status_code, got.text) == (404, "404 page not found")


# -- pull --------------------------------------------------------------------------------


def test_pull_streams_progress_per_layer(fake: FakeOllama, client: httpx.Client) -> None:
    got = client.post("/api/pull", json={"model": Q4})
    assert got.headers["content-type"] == "application/x-ndjson"
    events = lines(got)
    statuses = [e["status"] for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    model_lines = [e for e in events if e.get("total") == Q4_SIZE]
    digest = model_lines[0]["digest"]
    assert model_lines[0]["status"] == f"pulling {digest[7:19]}"
    assert "completed" not in model_lines[0]  # omitempty while 0
    completed = [e["completed"] for e in model_lines[1:]]
    assert completed == sorted(completed) and completed[-1] == Q4_SIZE
    assert Q4 in fake.models


def test_pull_of_present_layers_sends_one_complete_line_each(
    fake: FakeOllama, client: httpx.Client
) -> None:
    client.post("/api/pull", json={"model": Q4})
    again = lines(client.post("/api/pull", json={"model": "qwen2.5:7b-instruct"}))
    layer_lines = [e for e in again if "digest" in e]
    assert layer_lines and all(e["completed"] == e["total"] for e in layer_lines)
    assert len({e["digest"] for e in layer_lines}) == len(layer_lines)


def test_pull_unknown_tag_errors_after_200(client: httpx.Client) -> None:
    got = client.post("/api/pull", json={"model": "qwen2.5:7b-instruct-q9_X"})
    assert got.status_code == 200
    assert lines(got) == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]


def test_pull_bad_name_is_400(client: httpx.Client) -> None:
    got = client.post("/api/pull", json={"model": "bad name!"})
    assert (got.status_code, got.json()) == (400, {"error": "invalid model name"})


def test_pull_without_stream_returns_last_status_or_500(client: httpx.Client) -> None:
    ok = client.post("/api/pull", json={"model": Q4, "stream": False})
    assert (ok.status_code, ok.json()) == (200, {"status": "success"})
    assert ok.headers["content-type"] == JSON_TYPE
    missing = client.post("/api/pull", json={"model": "nope:1b", "stream": False})
    assert missing.status_code == 500
    assert missing.json() == {"error": "pull model manifest: file does not exist"}


def test_push_of_a_local_model_streams_to_success_and_of_a_missing_one_fails(
    fake: FakeOllama, client: httpx.Client
) -> None:
    """As Ollama's `PushModel` (the fake's registry accepts every upload)."""
    client.post("/api/pull", json={"model": Q4, "stream": False})
    pushed = lines(client.post("/api/push", json={"model": Q4}))
    assert pushed[0] == {"status": "retrieving manifest"}
    assert pushed[-2:] == [{"status": "pushing manifest"}, {"status": "success"}]
    assert all(p["completed"] == p["total"] for p in pushed[1:-2])
    missing = client.post("/api/push", json={"model": "user/nope", "stream": False})
    assert missing.status_code == 500 and "no such file" in missing.json()["error"]


# -- create ------------------------------------------------------------------------------


def test_create_requires_from_or_files_even_with_legacy_modelfile(client: httpx.Client) -> None:
    got = create(client, model="mine", modelfile="FROM qwen2.5:7b-instruct")
    assert (got.status_code, got.json()) == (
        400,
        {"error": "neither 'from' or 'files' was specified"},
    )


def test_create_from_local_model_streams_layers(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    got = create(client, model="qk-chat", **{"from": Q4}, system="Be brief.")
    statuses = [e["status"] for e in lines(got)]
    assert any(s.startswith("using existing layer sha256:") for s in statuses)
    assert any(s.startswith("creating new layer sha256:") for s in statuses)
    assert statuses[-2:] == ["writing manifest", "success"]
    assert fake.models["qk-chat"].system == "Be brief."
    assert fake.models["qk-chat:latest"].parent == Q4


def test_create_merges_parameters_and_keeps_parent_text(
    fake: FakeOllama, client: httpx.Client
) -> None:
    fake.add_local_model(Q4, system="base system", parameters={"stop": ["a", "b"], "top_k": 20})
    body = {"from": Q4, "parameters": {"stop": ["<|im_end|>"], "num_ctx": 8192}}
    create(client, model="child", **body, system="", template="", license="MIT")
    child = fake.models["child"]
    assert child.parameters == {"stop": ["<|im_end|>"], "top_k": 20, "num_ctx": 8192}
    assert child.system == "base system"
    assert child.template == fake.models[Q4].template
    assert child.license == [*fake.models[Q4].license, "MIT"]


def test_create_messages_replace_the_parents(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4, messages=[{"role": "user", "content": "old"}])
    new = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    create(client, model="child", **{"from": Q4}, messages=new)
    assert fake.models["child"].messages == new
    create(client, model="grandchild", **{"from": "child"})
    assert fake.models["grandchild"].messages == new


def test_create_from_registry_model_pulls_implicitly(
    fake: FakeOllama, client: httpx.Client
) -> None:
    statuses = [e.get("status") for e in lines(create(client, model="x", **{"from": Q4}))]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert Q4 in fake.models and "x" in fake.models


def test_create_from_unknown_model_fails_in_stream(client: httpx.Client) -> None:
    events = lines(create(client, model="x", **{"from": "nowhere:1b"}))
    assert events[-1] == {"error": "pull model manifest: file does not exist"}
    quiet = create(client, model="x", **{"from": "nowhere:1b"}, stream=False)
    assert quiet.status_code == 500


def test_create_without_stream_returns_success(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    got = create(client, model="x", **{"from": Q4}, stream=False)
    assert (got.status_code, got.json()) == (200, {"status": "success"})


def test_create_rejects_bad_template(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    got = create(client, model="x", **{"from": Q4}, template="{{ if .System }}")
    assert got.status_code == 400
    assert got.json()["error"].startswith("template error: template: ")


# -- show --------------------------------------------------------------------------------


def test_show_reports_modelfile_parameters_and_info(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    params = {"num_ctx": 16384, "temperature": 0.7, "stop": ["<|im_end|>", "<|im_start|>"]}
    create(client, model="qk", **{"from": Q4}, parameters=params, system="Short answers.")
    shown = client.post("/api/show", json={"model": "qk"}).json()
    text = shown["modelfile"]
    assert text.startswith('# Modelfile generated by "ollama show"\n')
    assert "\nFROM /usr/share/ollama/.ollama/models/blobs/sha256-" in text
    assert "\nPARAMETER num_ctx 16384\n" in text
    assert "\nPARAMETER stop <|im_end|>\nPARAMETER stop <|im_start|>\n" in text
    assert "\nSYSTEM Short answers.\n" in text and '\nTEMPLATE """' in text
    assert shown["parameters"].splitlines() == [
        "num_ctx                        16384",
        "temperature                    0.7",
        'stop                           "<|im_end|>"',
        'stop                           "<|im_start|>"',
    ]
    assert shown["system"] == "Short answers."
    assert ".Tools" in shown["template"] and "<tool_call>" in shown["template"]
    assert shown["capabilities"] == ["completion", "tools"]
    info = shown["model_info"]
    assert info["general.architecture"] == "qwen2"
    assert info["qwen2.context_length"] == 32768
    assert info["qwen2.attention.head_count_kv"] == 4
    assert info["general.parameter_count"] == 7_615_616_512


def test_show_errors(client: httpx.Client) -> None:
    missing = client.post("/api/show", json={"model": "ghost"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'ghost:latest' not found"}  # as 0.32.15 says
    empty = client.post("/api/show", json={})
    assert (empty.status_code, empty.json()) == (400, {"error": "model is required"})
    nobody = client.post("/api/show")
    assert (nobody.status_code, nobody.json()) == (400, {"error": "missing request body"})


def test_json_escapes_html_like_go(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4, parameters={"stop": ["<|im_end|>"]})
    raw = client.post("/api/show", json={"model": Q4}).text
    assert "\\u003c|im_end|\\u003e" in raw and "<|im_end|>" not in raw


# -- chat, generate, ps ------------------------------------------------------------------


def chat(client: httpx.Client, model: str = Q4, **body) -> httpx.Response:
    body.setdefault("messages", [{"role": "user", "content": "hello"}])
    return client.post("/api/chat", json={"model": model, **body})


def test_chat_streams_chunks_then_final_metrics(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append("Hi there, friend")
    got = chat(client)
    assert got.headers["content-type"] == "application/x-ndjson"
    events = lines(got)
    assert "".join(e["message"]["content"] for e in events) == "Hi there, friend"
    assert all(e["done"] is False for e in events[:-1])
    final = events[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["eval_count"] == 3 and final["total_duration"] > 0


def test_chat_without_stream_is_one_object(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append("one two")
    got = chat(client, stream=False)
    assert got.headers["content-type"] == JSON_TYPE
    body = got.json()
    assert body["message"] == {"role": "assistant", "content": "one two"}
    assert body["done"] is True and body["eval_count"] == 2


def test_chat_errors_before_streaming(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    assert chat(client, model="").json() == {"error": "model is required"}
    missing = chat(client, model="ghost:1b")
    assert (missing.status_code, missing.json()) == (404, {"error": "model 'ghost:1b' not found"})
    thinking = chat(client, think=True)
    assert (thinking.status_code, thinking.json()) == (
        400,
        {"error": f'"{Q4}" does not support thinking'},
    )
    assert chat(client, think=False).status_code == 200
    bad_format = chat(client, format="xml")
    assert bad_format.status_code == 500
    assert bad_format.json()["error"].startswith("invalid format: ")


def test_chat_tools_need_a_tools_template(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model("plain", template="{{ .Prompt }}")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    got = chat(client, model="plain", tools=tools)
    assert (got.status_code, got.json()) == (
        400,
        {"error": "registry.ollama.ai/library/plain:latest does not support tools"},
    )


def test_chat_loads_with_clamped_context(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    chat(client, options={"num_ctx": 65536})
    (loaded,) = client.get("/api/ps").json()["models"]
    assert loaded["context_length"] == 32768
    assert loaded["name"] == Q4 and loaded["size"] == loaded["size_vram"]
    assert set(loaded) >= {"digest", "details", "expires_at"}


def test_context_comes_from_request_then_model_then_default(
    fake: FakeOllama, client: httpx.Client
) -> None:
    fake.add_local_model(Q4)
    fake.add_local_model("tuned", parameters={"num_ctx": 8192})
    chat(client)
    chat(client, model="tuned")
    chat(client, model="tuned", options={"num_ctx": 2048})
    assert fake.loads == [(Q4, 4096), ("tuned:latest", 8192), ("tuned:latest", 2048)]


def test_old_servers_do_not_clamp() -> None:
    with FakeOllama(version="0.9.2") as fake:
        fake.add_local_model(Q4)
        httpx.post(
            fake.url + "/api/chat",
            json={"model": Q4, "messages": [], "options": {"num_ctx": 65536}},
        )
        assert fake.loaded[0].context_length == 65536


def test_empty_messages_only_load(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    (event,) = lines(chat(client, messages=[]))
    assert event["done"] is True and event["done_reason"] == "load"
    assert "eval_count" not in event
    assert [m.model.name for m in fake.loaded] == [Q4]


def test_models_of_one_blob_share_a_runner_listed_under_the_first(
    fake: FakeOllama, client: httpx.Client
) -> None:
    """As Ollama 0.32 (recorded in tests/fixtures/ollama/ps_shared.json): one runner per
    weights blob, listed under the model that loaded it; unloading either name stops it,
    deleting the first leaves it listed under the deleted name."""
    first = fake.add_local_model("qwenkit-chat", system="chat")
    fake.add_local_model("qwenkit-json", system="json", model_digest=first.model_digest)
    chat(client, model="qwenkit-chat")
    chat(client, model="qwenkit-json")
    listed = client.get("/api/ps").json()["models"]
    assert [(m["name"], m["digest"]) for m in listed] == [("qwenkit-chat:latest", first.digest)]
    client.request("DELETE", "/api/delete", json={"model": "qwenkit-chat"})
    chat(client, model="qwenkit-json")
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == ["qwenkit-chat:latest"]
    client.post("/api/generate", json={"model": "qwenkit-json", "keep_alive": 0})
    assert client.get("/api/ps").json()["models"] == []


def test_partial_offload_when_vram_is_short() -> None:
    with FakeOllama(vram_bytes=6 << 30) as fake:
        fake.add_local_model(Q4)
        httpx.post(
            fake.url + "/api/chat",
            json={"model": Q4, "messages": [], "options": {"num_ctx": 32768}},
        )
        (loaded,) = httpx.get(fake.url + "/api/ps").json()["models"]
    assert 0 < loaded["size_vram"] < loaded["size"]


def test_generate_uses_response_field(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append("a b c")
    body = client.post("/api/generate", json={"model": Q4, "prompt": "x", "stream": False}).json()
    assert body["response"] == "a b c" and body["done"] is True
    assert isinstance(body["context"], list) and body["context"]


def test_scripted_tool_call_is_its_own_chunk(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append(
        Reply(text="Let me check.", tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}])
    )
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    events = lines(chat(client, tools=tools))
    calls = [e for e in events if e["message"].get("tool_calls")]
    (chunk,) = calls
    assert chunk["message"]["content"] == "" and chunk["done"] is False
    (call,) = chunk["message"]["tool_calls"]
    assert call["function"] == {"index": 0, "name": "weather", "arguments": {"city": "Oslo"}}
    assert call["id"].startswith("call_") and len(call["id"]) == 13
    text = "".join(e["message"]["content"] for e in events)
    assert text == "Let me check."


def test_json_format_default_answer_is_valid_json(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    content = chat(client, format=schema, stream=False).json()["message"]["content"]
    value = json.loads(content)
    assert isinstance(value["name"], str) and isinstance(value["age"], int)
    plain = chat(client, format="json", stream=False).json()["message"]["content"]
    assert isinstance(json.loads(plain), dict)


def test_requests_are_recorded(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    chat(client, options={"num_ctx": 8192})
    (recorded,) = fake.requests_to("/api/chat")
    assert recorded.method == "POST"
    assert recorded.json["options"] == {"num_ctx": 8192}
    assert recorded.headers["content-type"] == "application/json"


def test_tool_call_text_is_parsed_or_dropped_like_qwen(
    fake: FakeOllama, client: httpx.Client
) -> None:
    fake.add_local_model(Q4)
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    good = 'Sure.<tool_call>\n{"name": "weather", "arguments": {"city": "Rome"}}\n</tool_call>'
    broken = 'Sure.<tool_call>\n{"name": "weather", "arguments": {"city": </tool_call>'
    fake.chat_script.extend([good, broken, good])
    parsed = chat(client, tools=tools, stream=False).json()["message"]
    assert parsed["content"] == "Sure."
    assert parsed["tool_calls"][0]["function"]["arguments"] == {"city": "Rome"}
    lost = chat(client, tools=tools, stream=False).json()["message"]
    assert lost == {"role": "assistant", "content": "Sure."}
    without_tools = chat(client, stream=False).json()["message"]
    assert without_tools["content"] == good and "tool_calls" not in without_tools


def test_default_answer_with_tools_calls_the_first_tool(
    fake: FakeOllama, client: httpx.Client
) -> None:
    fake.add_local_model(Q4)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [
        {"type": "function", "function": {"name": "weather", "parameters": schema}},
        {"type": "function", "function": {"name": "other", "parameters": {}}},
    ]
    (call,) = chat(client, tools=tools, stream=False).json()["message"]["tool_calls"]
    assert call["function"]["name"] == "weather"
    assert isinstance(call["function"]["arguments"]["city"], str)


def test_num_predict_cuts_with_length_reason(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append('{"name": "Ada", "age": 36}')
    body = chat(client, options={"num_predict": 2}, stream=False).json()
    assert body["done_reason"] == "length" and body["message"]["content"] == '{"name": "Ada",'


def test_wrong_option_type_is_500(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    got = chat(client, options={"num_ctx": "8192"})
    assert (got.status_code, got.json()) == (
        500,
        {"error": 'option "num_ctx" must be of type integer'},
    )
    assert chat(client, options={"stop": "x"}).json() == {
        "error": 'option "stop" must be of type array'
    }


def test_keep_alive_zero_unloads_and_bad_duration_is_400(
    fake: FakeOllama, client: httpx.Client
) -> None:
    fake.add_local_model(Q4)
    chat(client, messages=[])
    assert fake.loaded
    body = client.post("/api/generate", json={"model": Q4, "prompt": "", "keep_alive": 0})
    assert lines(body)[0]["done_reason"] == "unload"
    assert client.get("/api/ps").json() == {"models": []}
    bad = chat(client, keep_alive="300")
    assert (bad.status_code, bad.json()) == (400, {"error": 'time: missing unit in duration "300"'})


def test_generate_raw_with_system_is_400(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    got = client.post(
        "/api/generate", json={"model": Q4, "prompt": "x", "raw": True, "system": "s"}
    )
    assert got.status_code == 400


# -- delete, copy, embed, blobs ----------------------------------------------------------


def test_delete_and_copy(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    copied = client.post("/api/copy", json={"source": Q4, "destination": "mine:v1"})
    assert (copied.status_code, copied.content) == (200, b"")
    assert "mine:v1" in fake.models
    gone = client.post("/api/copy", json={"source": "ghost", "destination": "x"})
    assert (gone.status_code, gone.json()) == (404, {"error": 'model "ghost" not found'})
    deleted = client.request("DELETE", "/api/delete", json={"model": "mine:v1"})
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert "mine:v1" not in fake.models
    again = client.request("DELETE", "/api/delete", json={"model": "mine:v1"})
    assert (again.status_code, again.json()) == (404, {"error": "model 'mine:v1' not found"})


def test_deleting_the_last_user_of_a_blob_prunes_it(fake: FakeOllama, client: httpx.Client) -> None:
    client.post("/api/pull", json={"model": Q4})
    client.request("DELETE", "/api/delete", json={"model": Q4})
    repull = model_layer_lines(lines(client.post("/api/pull", json={"model": Q4})))
    assert len(repull) > 1 and "completed" not in repull[0]  # downloaded again from 0


def test_embed_returns_unit_vectors(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    body = client.post("/api/embed", json={"model": Q4, "input": ["a", "b"]}).json()
    first, second = body["embeddings"]
    assert len(first) == 3584 and first != second
    assert abs(sum(v * v for v in first) - 1) < 1e-9
    bad = client.post("/api/embed", json={"model": Q4, "input": [1]})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid input type"})


def test_blob_upload_checks_digest(fake: FakeOllama, client: httpx.Client) -> None:
    import hashlib

    data = b"GGUF not really"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.head(f"/api/blobs/{digest}").status_code == 404
    assert client.post(f"/api/blobs/{digest}", content=data).status_code == 201
    assert client.post(f"/api/blobs/{digest}", content=data).status_code == 200
    assert client.head(f"/api/blobs/{digest}").status_code == 200
    assert fake.blobs[digest] == data
    other = "sha256:" + "0" * 64
    wrong = client.post(f"/api/blobs/{other}", content=data)
    assert wrong.status_code == 400
    assert wrong.json() == {"error": f'digest mismatch, expected "{other}", got "{digest}"'}
    invalid = client.head("/api/blobs/sha256:abc")
    assert invalid.status_code == 400


# -- create from a GGUF file -------------------------------------------------------------


def gguf_bytes(tmp_path, context_length: int, yarn: bool) -> bytes:
    import gguf
    import numpy as np

    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_context_length(context_length)
    writer.add_block_count(28)
    writer.add_embedding_length(3584)
    writer.add_head_count(28)
    writer.add_head_count_kv(4)
    writer.add_file_type(15)
    if yarn:
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(4.0)
        writer.add_rope_scaling_orig_ctx_len(32768)
    writer.add_tensor("x", np.zeros(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def test_create_from_yarn_gguf_accepts_long_context(
    fake: FakeOllama, client: httpx.Client, tmp_path
) -> None:
    from tests.fake_ollama import QWEN_TEMPLATE

    digest = fake.add_blob(gguf_bytes(tmp_path, 131072, yarn=True))
    body = {"files": {"model.gguf": digest}, "template": QWEN_TEMPLATE}
    events = lines(create(client, model="long", **body, parameters={"num_ctx": 131072}))
    assert events[0] == {"status": "parsing GGUF"} and events[-1] == {"status": "success"}
    info = client.post("/api/show", json={"model": "long"}).json()["model_info"]
    assert info["qwen2.context_length"] == 131072
    assert info["qwen2.rope.scaling.type"] == "yarn"
    assert info["qwen2.rope.scaling.factor"] == 4.0
    assert info["qwen2.rope.scaling.original_context_length"] == 32768
    chat(client, model="long", messages=[])
    assert fake.loaded[0].context_length == 131072


def test_create_from_gguf_without_template_has_no_tools(
    fake: FakeOllama, client: httpx.Client, tmp_path
) -> None:
    digest = fake.add_blob(gguf_bytes(tmp_path, 32768, yarn=False))
    create(client, model="raw", files={"m.gguf": digest})
    shown = client.post("/api/show", json={"model": "raw"}).json()
    assert shown["capabilities"] == ["completion"]
    assert shown["details"]["quantization_level"] == "Q4_K_M"


def test_create_from_files_errors(fake: FakeOllama, client: httpx.Client) -> None:
    gone = {"model": "x", "files": {"m.gguf": "sha256:" + "1" * 64}}
    missing = create(client, **gone, stream=False)
    assert missing.status_code == 500
    assert missing.json()["error"].endswith(": no such file or directory")
    streamed = create(client, **gone)  # as 0.32.15 does: the status line is already out
    assert streamed.status_code == 200 and lines(streamed)[0] == {"status": "parsing GGUF"}
    assert lines(streamed)[-1]["error"].endswith(": no such file or directory")
    digest = fake.add_blob(b"not a gguf")
    not_gguf = create(client, model="x", files={"m.gguf": digest}, stream=False)
    assert (not_gguf.status_code, not_gguf.json()) == (
        400,
        {"error": "supplied file was not in GGUF format"},
    )
    absolute = create(client, model="x", files={"/abs/m.gguf": digest}, stream=False)
    assert absolute.json() == {"error": "file path must be relative"}


# -- faults ------------------------------------------------------------------------------


def test_refuse_closes_the_port_and_restore_reopens_it(
    fake: FakeOllama, client: httpx.Client
) -> None:
    fake.faults.refuse()
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake.url + "/api/version", timeout=1)
    fake.faults.restore()
    assert httpx.get(fake.url + "/api/version", timeout=1).status_code == 200


def model_layer_lines(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("total") == Q4_SIZE]


def test_dropped_pull_resumes_from_kept_bytes(fake: FakeOllama, client: httpx.Client) -> None:
    fake.faults.drop_pull_after = 1_000_000_000
    seen: list[dict] = []
    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with client.stream("POST", "/api/pull", json={"model": Q4}) as response:
            seen.extend(json.loads(line) for line in response.iter_lines())
    assert model_layer_lines(seen)[-1]["completed"] == 1_000_000_000
    assert list(fake.partial.values()) == [1_000_000_000]
    assert Q4 not in fake.models
    resumed = model_layer_lines(lines(client.post("/api/pull", json={"model": Q4})))
    assert resumed[0]["completed"] == 1_000_000_000  # continues where it stopped
    assert resumed[-1]["completed"] == Q4_SIZE
    assert Q4 in fake.models and fake.partial == {}


def test_stalled_pull_stops_sending_for_a_while(fake: FakeOllama) -> None:
    fake.faults.stall_pull_after = 2_000_000_000
    fake.faults.stall_seconds = 0.6
    impatient = httpx.Client(base_url=fake.url, timeout=httpx.Timeout(5, read=0.2))
    with impatient, pytest.raises(httpx.ReadTimeout):  # noqa: SIM117
        with impatient.stream("POST", "/api/pull", json={"model": Q4}) as response:
            for _ in response.iter_lines():
                pass
    assert list(fake.partial.values()) == [2_000_000_000]
    with httpx.Client(base_url=fake.url, timeout=5) as patient:
        events = lines(patient.post("/api/pull", json={"model": Q4}))
    assert events[-1] == {"status": "success"}  # a stall happens once


def test_status_fault_answers_busy_then_clears(fake: FakeOllama, client: httpx.Client) -> None:
    from tests.fake_ollama import StatusFault

    fake.add_local_model(Q4)
    fake.faults.status["/api/chat"] = StatusFault(503, times=1)
    busy = chat(client)
    assert busy.status_code == 503
    assert busy.json() == {
        "error": "server busy, please try again.  maximum pending requests exceeded"
    }
    assert chat(client).status_code == 200
    fake.faults.status["/api/tags"] = (500, "boom")
    assert client.get("/api/tags").json() == {"error": "boom"}
    assert client.get("/api/tags").status_code == 500  # until removed


def test_midstream_error_after_some_chunks(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.faults.midstream_error = "llama runner process has terminated: signal: killed"
    fake.chat_script.append("one two three four")
    got = chat(client)
    events = lines(got)
    assert got.status_code == 200
    assert events[0]["message"]["content"] == "one"
    assert events[-1] == {"error": "llama runner process has terminated: signal: killed"}
    assert not any(e.get("done") for e in events)


def test_truncated_stream_has_no_done_line(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.faults.truncate_stream = True
    events = lines(chat(client))
    assert events and not any(e["done"] for e in events)
    fake.faults.truncate_stream = "abort"
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client)


def test_scripted_delay_and_error(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append(Reply(text="a b", error="out of memory", delay=0.05))
    events = lines(chat(client))
    assert events[-1] == {"error": "out of memory"}


def test_disk_full_pull_fails_with_enospc(fake: FakeOllama, client: httpx.Client) -> None:
    fake.faults.disk_free_bytes = 1_000_000
    events = lines(client.post("/api/pull", json={"model": Q4}))
    assert events[-1]["error"].endswith("-partial: no space left on device")
    assert events[-1]["error"].startswith("write /usr/share/ollama/.ollama/models/blobs/sha256-")
    fake.faults.disk_free_bytes = 10 * Q4_SIZE
    assert lines(client.post("/api/pull", json={"model": Q4}))[-1] == {"status": "success"}
    assert fake.faults.disk_free_bytes < 9 * Q4_SIZE  # the download used the space


# -- as a process ------------------------------------------------------------------------


def test_runs_as_a_process_with_state_and_log(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    state = tmp_path / "state.json"
    log = tmp_path / "requests.jsonl"
    state.write_text(
        json.dumps(
            {
                "version": "0.13.0",
                "library": True,
                "local": [{"name": "qk", "parameters": {"num_ctx": 8192}, "system": "S."}],
                "faults": {"status": {"/api/pull": {"code": 503, "times": 1}}},
            }
        )
    )
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "tests.fake_ollama", "--state", str(state), "--log", str(log)]
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/api/version").json() == {"version": "0.13.0"}
        assert httpx.post(url + "/api/pull", json={"model": Q4}).status_code == 503
        message = {"role": "user", "content": "hi"}
        httpx.post(url + "/api/chat", json={"model": "qk", "messages": [message]})
        ps = httpx.get(url + "/api/ps").json()["models"]
        assert ps[0]["context_length"] == 8192
        httpx.post(url + "/_fake/faults", json={"midstream_error": "boom"})
        reply = httpx.post(url + "/api/chat", json={"model": "qk", "messages": [message]})
        assert reply.text.splitlines()[-1] == '{"error":"boom"}'
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    chats = [entry for entry in logged if entry["path"] == "/api/chat"]
    assert chats[0]["json"]["model"] == "qk" and chats[0]["method"] == "POST"
    assert all(not entry["path"].startswith("/_fake/") for entry in logged)


# -- scripting and version quirks --------------------------------------------------------


def test_callable_script_sees_the_request(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    fake.chat_script.append(lambda request: f"ctx={request['options']['num_ctx']}")
    body = chat(client, options={"num_ctx": 4096}, stream=False).json()
    assert body["message"]["content"] == "ctx=4096"


def test_recorded_headers_are_case_insensitive(fake: FakeOllama, client: httpx.Client) -> None:
    client.get("/api/tags", headers={"Authorization": "Bearer k"})
    recorded = fake.requests_to("/api/tags")[-1]
    assert recorded.headers["authorization"] == recorded.headers["Authorization"] == "Bearer k"


def test_old_versions_shape_tool_calls_differently() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    shapes = {}
    for version in ("0.12.5", "0.12.7", "0.12.11"):
        with FakeOllama(version=version) as fake:
            fake.add_local_model(Q4)
            message = {"role": "user", "content": "x"}
            body = {"model": Q4, "messages": [message], "tools": tools, "stream": False}
            reply = httpx.post(fake.url + "/api/chat", json=body).json()
            (shapes[version],) = reply["message"]["tool_calls"]
    assert shapes["0.12.5"] == {"function": {"name": "f", "arguments": {}}}
    assert shapes["0.12.7"] == {"function": {"index": 0, "name": "f", "arguments": {}}}
    assert shapes["0.12.11"]["id"].startswith("call_")


def test_open_webui_style_session(fake: FakeOllama, client: httpx.Client) -> None:
    """What open-webui.md §6.5 says a stub must answer, in the order Open WebUI asks."""
    fake.add_local_model(Q4, parameters={"num_ctx": 8192})
    assert client.get("/api/tags").json()["models"][0]["name"] == Q4
    assert client.get("/api/ps").json() == {"models": []}
    message = {"role": "user", "content": "hi"}
    streamed = lines(client.post("/api/chat", json={"model": Q4, "messages": [message]}))
    assert streamed[-1]["done"] is True
    title = chat(client, messages=[message], stream=False, options={"num_predict": 1000})
    assert title.json()["done"] is True
    assert client.get("/api/ps").json()["models"][0]["context_length"] == 8192
    unload = client.post("/api/generate", json={"model": Q4, "keep_alive": 0, "prompt": ""})
    assert lines(unload)[0]["done_reason"] == "unload"


def test_top_logprobs_range_is_checked(fake: FakeOllama, client: httpx.Client) -> None:
    fake.add_local_model(Q4)
    got = chat(client, top_logprobs=21)
    assert (got.status_code, got.json()) == (
        400,
        {"error": "top_logprobs must be between 0 and 20"},
    )
