"""Every endpoint's wire format (respx), request validation, host/auth, and the public names."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
import respx

import qwenkit
from qwenkit import Client
from qwenkit.errors import ModelNotFoundError, ProtocolError, ResponseError
from qwenkit.types import InvalidRequestError, ProgressResponse
from tests.live.scenario import load as real

BASE = "http://127.0.0.1:11434"
SHA = "sha256:" + "ab" * 32


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        yield router


@pytest.fixture
def client():
    with Client() as c:
        yield c


def ndjson(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


# --------------------------------------------------------------------------- model endpoints


def test_version(api, client) -> None:
    api.get("/api/version").respond(json={"version": "0.12.10"})
    assert client.version() == "0.12.10"


def test_version_from_something_else_is_a_protocol_error(api, client) -> None:
    api.get("/api/version").respond(json={"hello": "world"})
    with pytest.raises(ProtocolError):
        client.version()


def test_list(api, client) -> None:
    api.get("/api/tags").respond(json=real("tags")["json"])  # what Ollama 0.32.15 sent
    model = next(m for m in client.list().models if m.name == "scn-tiny:latest")
    assert model.size > 0 and model.details is not None
    assert (model.details.family, model.details.context_length) == ("qwen2", 32768)
    assert model.capabilities == ["completion"]


def test_show(api, client) -> None:
    route = api.post("/api/show").respond(json=real("show")["json"])
    shown = client.show("scn-tiny")
    assert sent(route) == {"model": "scn-tiny"}
    assert shown.model_info["qwen2.context_length"] == 32768
    assert shown.model_info["tokenizer.ggml.tokens"] is None  # null unless verbose
    assert shown.capabilities == ["completion"] and shown.tensors
    assert shown.system is None and shown.messages == []


def test_show_missing_model(api, client) -> None:
    missing = real("show_missing")
    api.post("/api/show").respond(missing["status"], json=missing["json"])
    with pytest.raises(ModelNotFoundError, match="qwenkit-no-such-model:latest") as info:
        client.show("qwenkit-no-such-model")
    assert info.value.model == "qwenkit-no-such-model" and info.value.status_code == 404


def test_ps(api, client) -> None:
    api.get("/api/ps").respond(json=real("ps")["json"])
    running = next(m for m in client.ps().models if m.name == "scn-tiny:latest")
    assert running.context_length == 4096  # 0.32's default below ~23 GiB of VRAM
    assert running.size_vram <= running.size and running.expires_at


def test_delete_and_copy(api, client) -> None:
    delete = api.delete("/api/delete").respond(200)
    copy = api.post("/api/copy").respond(200)
    assert client.delete("old").status == "success"
    assert client.copy("a", "b").status == "success"
    assert sent(delete) == {"model": "old"}
    assert sent(copy) == {"source": "a", "destination": "b"}


def test_copy_missing_source(api, client) -> None:
    missing = real("copy_missing")
    api.post("/api/copy").respond(missing["status"], json=missing["json"])
    with pytest.raises(ModelNotFoundError, match='model "qwenkit-no-such-model" not found') as info:
        client.copy("qwenkit-no-such-model", "b")
    assert info.value.model == "qwenkit-no-such-model"


PULL_LINES = [
    {"status": "pulling manifest"},
    {"status": "pulling 2bada8a74506", "digest": "sha256:2bada8a74506", "total": 4683073184},
    {
        "status": "pulling 2bada8a74506",
        "digest": "sha256:2bada8a74506",
        "total": 4683073184,
        "completed": 4683073184,
    },
    {"status": "verifying sha256 digest"},
    {"status": "success"},
]


def test_pull_streamed(api, client) -> None:
    route = api.post("/api/pull").respond(content=ndjson(*PULL_LINES))
    events = list(client.pull("qwen2.5:7b-instruct", stream=True))
    assert sent(route) == {"model": "qwen2.5:7b-instruct", "insecure": False, "stream": True}
    assert [e.status for e in events][-1] == "success"
    assert events[1].completed == 0  # omitted while 0 on the wire
    assert events[2].completed == events[2].total
    assert events[0].total is None and events[0].completed is None


def test_pull_not_streamed(api, client) -> None:
    route = api.post("/api/pull").respond(json={"status": "success"})
    assert client.pull("qwen2.5:7b-instruct").status == "success"
    assert sent(route)["stream"] is False


def test_pull_failure_without_stream_is_500(api, client) -> None:
    api.post("/api/pull").respond(500, json={"error": "pull model manifest: file does not exist"})
    with pytest.raises(ResponseError) as info:
        client.pull("qwen9:404b")
    assert "manifest" in str(info.value) and info.value.status_code == 500


def test_create_maps_from_and_passes_parameters_as_the_server_stores_them(api, client) -> None:
    route = api.post("/api/create").respond(json={"status": "success"})
    result = client.create(
        "qwenkit-chat",
        from_="qwen2.5:7b-instruct",
        system="You are helpful.",
        parameters={"num_ctx": 32768, "stop": ["<|im_end|>"]},
        messages=[ollama.Message(role="user", content="hi")],
    )
    assert isinstance(result, ProgressResponse) and result.status == "success"
    assert sent(route) == {
        "model": "qwenkit-chat",
        "from": "qwen2.5:7b-instruct",
        "system": "You are helpful.",
        "parameters": {"num_ctx": 32768, "stop": ["<|im_end|>"]},
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }
    # Ollama accepts and stores a name it does not know (ollama-api.md §10), so qwenkit sends it
    client.create("x", from_="y", parameters={"pi": 3.14})
    assert sent(route)["parameters"] == {"pi": 3.14}
    client.create("x", from_="y", parameters=ollama.Options(num_ctx=4096, stop=["<|im_end|>"]))
    assert sent(route)["parameters"] == {"num_ctx": 4096, "stop": ["<|im_end|>"]}


def test_create_streamed(api, client) -> None:
    api.post("/api/create").respond(
        content=ndjson({"status": "using existing layer sha256:aa"}, {"status": "success"})
    )
    statuses = [p.status for p in client.create("x", from_="y", stream=True)]
    assert statuses == ["using existing layer sha256:aa", "success"]


def test_create_from_request_sends_the_body_as_given(api, client) -> None:
    route = api.post("/api/create").respond(json={"status": "success"})
    body = {"model": "x", "files": {"m.gguf": SHA}, "parser": "qwen", "parameters": {"top_k": 20}}
    client.create_from_request(body)
    assert sent(route) == {**body, "stream": False}
    with pytest.raises(InvalidRequestError):
        client.create_from_request({"from": "y"})


def test_has_blob(api, client) -> None:
    api.head(f"/api/blobs/{SHA}").respond(200)
    other = "sha256:" + "cd" * 32
    api.head(f"/api/blobs/{other}").respond(404)
    assert client.has_blob(SHA) is True
    assert client.has_blob(other) is False


def test_create_blob_uploads_with_progress(api, client, tmp_path: Path) -> None:
    data = b"GGUF" + bytes(range(256)) * 9000  # > 2 MiB: several chunks
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    api.head(f"/api/blobs/{digest}").respond(404)
    upload = api.post(f"/api/blobs/{digest}").respond(201)
    seen: list[tuple[int, int]] = []
    digest_back = client.create_blob(path, progress=lambda done, total: seen.append((done, total)))
    assert digest_back == digest
    assert upload.calls[0].request.content == data
    assert seen[-1] == (len(data), len(data)) and len(seen) >= 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_create_blob_skips_upload_when_present(api, client, tmp_path: Path) -> None:
    path = tmp_path / "a.gguf"
    path.write_bytes(b"abc")
    digest = "sha256:" + hashlib.sha256(b"abc").hexdigest()
    api.head(f"/api/blobs/{digest}").respond(200)
    upload = api.post(f"/api/blobs/{digest}").respond(201)
    api._assert_all_called = False  # the upload route must stay unused
    assert client.create_blob(path) == digest
    assert not upload.called


def test_create_blob_digest_mismatch(api, client, tmp_path: Path) -> None:
    path = tmp_path / "a.gguf"
    path.write_bytes(b"abc")
    api.head(url__regex=r"/api/blobs/.*").respond(404)
    api.post(url__regex=r"/api/blobs/.*").respond(400, json={"error": "digest mismatch"})
    with pytest.raises(ResponseError, match="digest mismatch"):
        client.create_blob(path)


def test_create_from_modelfile_uploads_local_files_first(api, client, tmp_path: Path) -> None:
    pytest.importorskip("qwenkit.modelfile")
    gguf = tmp_path / "qwen.gguf"
    gguf.write_bytes(b"GGUF-bytes")
    digest = "sha256:" + hashlib.sha256(b"GGUF-bytes").hexdigest()
    (tmp_path / "Modelfile").write_text("FROM ./qwen.gguf\nPARAMETER num_ctx 8192\n")
    api.head(f"/api/blobs/{digest}").respond(404)
    api.post(f"/api/blobs/{digest}").respond(201)
    create = api.post("/api/create").respond(json={"status": "success"})
    client.create_from_modelfile("mine", tmp_path / "Modelfile")
    body = sent(create)
    assert body["model"] == "mine" and body["files"] == {"qwen.gguf": digest}
    assert body["parameters"]["num_ctx"] == 8192 and body["stream"] is False


def test_embed(api, client) -> None:
    route = api.post("/api/embed").respond(
        json={"model": "m", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 4}
    )
    result = client.embed("m", ["a", "b"], truncate=True, dimensions=2)
    assert sent(route) == {"model": "m", "input": ["a", "b"], "truncate": True, "dimensions": 2}
    assert result.embeddings[1] == [0.3, 0.4] and result.total_duration == 0


def test_generate(api, client) -> None:
    route = api.post("/api/generate").respond(
        json={"model": "m", "response": "4", "done": True, "context": [1, 2], "eval_count": 1}
    )
    result = client.generate("m", "2+2=", system="math", images=[b"\x00\x01"], keep_alive="5m")
    assert sent(route) == {
        "model": "m",
        "prompt": "2+2=",
        "system": "math",
        "images": ["AAE="],
        "keep_alive": "5m",
        "stream": False,
    }
    assert (result.response, result.context, result.prompt_eval_count) == ("4", [1, 2], 0)


def test_generate_streamed_final(api, client) -> None:
    api.post("/api/generate").respond(
        content=ndjson(
            {"model": "m", "response": "Hel", "done": False},
            {"model": "m", "response": "lo", "done": False},
            {"model": "m", "response": "", "done": True, "done_reason": "stop", "context": [7]},
        )
    )
    with client.generate("m", "hi", stream=True) as stream:
        texts = [c.response for c in stream]
        final = stream.final()
    assert texts == ["Hel", "lo", ""]
    assert (final.response, final.done_reason, final.context) == ("Hello", "stop", [7])


# --------------------------------------------------------------------------- chat


CHAT_REPLY = {
    "model": "qwenkit-chat",
    "created_at": "2026-08-21T10:00:02.3Z",
    "message": {"role": "assistant", "content": "Hello!"},
    "done": True,
    "done_reason": "stop",
    "total_duration": 2300000000,
    "eval_count": 120,
}


def test_chat_wire_format_and_response(api, client) -> None:
    route = api.post("/api/chat").respond(json=CHAT_REPLY)
    reply = client.chat(
        model="qwenkit-chat",
        messages=[{"role": "user", "content": "Hi"}],
        options={"temperature": 0.7, "num_ctx": 8192},
        keep_alive=-1,
        think=False,
        format="json",
    )
    assert sent(route) == {
        "model": "qwenkit-chat",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [],  # as the `ollama` client sends it; the server reads `[]` as no tools
        "format": "json",
        "options": {"temperature": 0.7, "num_ctx": 8192},
        "stream": False,
        "keep_alive": -1,
        "think": False,
    }
    assert reply.message.content == "Hello!" and reply.done_reason == "stop"
    assert (reply.eval_count, reply.prompt_eval_count, reply.load_duration) == (120, 0, 0)


def test_responses_read_as_dicts_as_ollamas_do(api, client) -> None:
    call = {"function": {"name": "f", "arguments": {"x": 1}}}
    message = {"role": "assistant", "content": "Hi", "tool_calls": [call], "new_key": 1}
    api.post("/api/chat").respond(json={**CHAT_REPLY, "message": message})
    reply = client.chat(model="qwenkit-chat", messages=[{"role": "user", "content": "Hi"}])
    assert reply["message"]["content"] == reply["message"].content == "Hi"
    assert reply.message["tool_calls"][0]["function"]["name"] == "f"
    assert reply["message"]["new_key"] == 1  # a newer server's field is a key too
    assert reply.get("done_reason") == "stop" and reply.get("no_such_key", 7) == 7
    assert "done_reason" in reply and "thinking" not in reply.message
    with pytest.raises(KeyError):
        _ = reply["model_dump"]  # methods are not keys


def test_chat_accepts_ollama_objects(api, client) -> None:
    route = api.post("/api/chat").respond(json=CHAT_REPLY)
    tool = ollama.Tool(
        type="function",
        function=ollama.Tool.Function(name="f", description="does f", parameters=None),
    )
    client.chat(
        "m",
        [
            ollama.Message(role="user", content="hi"),
            qwenkit.types.Message(role="user", content="x"),
        ],
        options=ollama.Options(num_ctx=4096, temperature=0.2),
        tools=[tool],
    )
    body = sent(route)
    assert body["messages"] == [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]
    assert body["options"] == {"num_ctx": 4096, "temperature": 0.2}
    assert body["tools"][0]["function"]["name"] == "f"


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"options": {"num_ctxx": 8192}}, "did you mean 'num_ctx'"),
        ({"options": {"num_ctx": "8192"}}, "num_ctx"),
        ({"options": {"temperature": "hot"}}, "temperature"),
        ({"messages": [{"role": "user", "contents": "typo"}]}, "contents"),
        ({"model": ""}, "model"),
        ({"think": "very"}, "think"),
    ],
)
def test_bad_requests_fail_before_sending(api, client, kwargs: dict[str, Any], text: str) -> None:
    route = api.post("/api/chat").respond(json=CHAT_REPLY)
    api._assert_all_called = False
    call = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **kwargs}
    with pytest.raises(InvalidRequestError) as info:
        client.chat(**call)
    assert text in str(info.value)
    assert isinstance(info.value, qwenkit.QwenkitError) and isinstance(info.value, ValueError)
    assert not route.called


def test_chat_unknown_keyword_is_a_type_error(client) -> None:
    with pytest.raises(TypeError):
        client.chat("m", [], optons={})  # type: ignore[call-overload]


def test_chat_stream_chunks_and_final(api, client) -> None:
    api.post("/api/chat").respond(
        content=ndjson(
            {"model": "m", "message": {"role": "assistant", "content": "He"}, "done": False},
            {"model": "m", "message": {"role": "assistant", "content": "llo"}, "done": False},
            {**CHAT_REPLY, "message": {"role": "assistant", "content": ""}},
        )
    )
    stream = client.chat("m", [{"role": "user", "content": "hi"}], stream=True)
    assert [c.message.content for c in stream] == ["He", "llo", ""]
    final = stream.final()
    assert final.message.content == "Hello" and final.eval_count == 120 and final.done


# --------------------------------------------------------------------------- configuration


def test_host_from_environment_and_bind_all_rewrite(monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:9999")
    assert Client().host == "http://127.0.0.1:9999"
    assert Client("gpu-box").host == "http://gpu-box:11434"


def test_bearer_auth_from_environment_is_sent_but_not_shown(monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "s3cret")
    with respx.mock(base_url="http://gpu-box:11434") as router:
        route = router.get("/api/version").respond(json={"version": "1"})
        client = Client("gpu-box")
        client.version()
    assert route.calls[0].request.headers["authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(client.__dict__.get("host", "")) and "s3cret" not in client.host


def test_path_prefix_in_host(monkeypatch) -> None:
    with respx.mock() as router:
        route = router.get("http://proxy:8080/ollama/api/version").respond(json={"version": "1"})
        Client("http://proxy:8080/ollama").version()
    assert route.called


def test_custom_transport_and_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"version": "9"})

    client = Client(headers={"X-Trace": "1"}, transport=httpx.MockTransport(handler))
    assert client.version() == "9"
    assert seen[0].headers["x-trace"] == "1"
    assert seen[0].headers["user-agent"].startswith("qwenkit/")


def test_public_names_import() -> None:
    for name in qwenkit.__all__:
        if name in ("Modelfile", "HardwareProfile", "probe", "Plan", "plan"):
            module = qwenkit._LAZY[name]
            if importlib.util.find_spec(module) is None:  # another helper's module, not landed
                continue
        assert getattr(qwenkit, name) is not None, name
    assert qwenkit.Client is Client and qwenkit.AsyncClient.__name__ == "AsyncClient"
