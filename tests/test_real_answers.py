"""What a real Ollama 0.32.15 answered (recorded by the live suite), replayed through qwenkit.

Each fixture in `tests/fixtures/ollama/` is one real exchange, trimmed: `request`, `status`,
`content_type`, and the `json` body or the NDJSON `lines`. Re-record them with
`QWENKIT_LIVE_OLLAMA=... QWENKIT_LIVE_RECORD=1 pytest -m live tests/live/test_fake_vs_real.py`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import qwenkit
from qwenkit._common.retry import RetryPolicy
from qwenkit.errors import (
    CapabilityError,
    IncompleteAnswerError,
    ModelNotFoundError,
    ProtocolError,
    ResponseError,
)
from qwenkit.setup import Check, verify
from qwenkit.setup.verify import ExpectedModel, check_loaded, parameter_mismatches
from tests.live.scenario import load

HELLO = [{"role": "user", "content": "Say hello."}]


def replay(*names: str, calls: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """A transport answering each request with the next recorded exchange, in order."""
    queue = [load(name) for name in names]

    def handler(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(request)
        entry = queue.pop(0) if len(queue) > 1 else queue[0]
        headers = {"content-type": entry["content_type"]} if entry["content_type"] else {}
        if "lines" in entry:
            body = b"".join(json.dumps(line).encode() + b"\n" for line in entry["lines"])
        elif "json" in entry:
            body = json.dumps(entry["json"]).encode()
        else:
            body = b""
        return httpx.Response(entry["status"], headers=headers, content=body)

    return httpx.MockTransport(handler)


def client(*names: str, calls: list[httpx.Request] | None = None) -> qwenkit.Client:
    return qwenkit.Client("http://ollama.test:11434", transport=replay(*names, calls=calls))


# --------------------------------------------------------------------------- defect 1


@pytest.mark.parametrize("name", ["chat_cut", "generate_cut"])
def test_cut_answer_without_done_is_an_error_not_a_reply(name: str):
    entry = load(name)
    assert entry["status"] == 200 and entry["json"]["done"] is False
    with client(name) as api, pytest.raises(IncompleteAnswerError, match="before it was finished"):
        if name == "chat_cut":
            api.chat("m", HELLO)
        else:
            api.generate("m", "Hello")


def test_cut_stream_raises_the_same_error():
    entry = load("chat_cut_stream")
    assert entry["status"] == 200 and entry["lines"] == []  # the body just ends
    with client("chat_cut_stream") as api, pytest.raises(IncompleteAnswerError) as err:
        list(api.chat("m", HELLO, stream=True))
    assert isinstance(err.value, ProtocolError) and err.value.partial == ""


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["chat_missing", "chat_missing_stream", "generate_missing"])
def test_unknown_model_is_model_not_found(name: str):
    with client(name) as api, pytest.raises(ModelNotFoundError, match="not found") as err:
        if name.startswith("chat"):
            list(api.chat("qwenkit-no-such-model", HELLO, stream=name.endswith("stream")))
        else:
            api.generate("qwenkit-no-such-model", "x")
    assert err.value.status_code == 404 and "ollama pull" in (err.value.hint or "")


def test_tools_on_a_template_without_them_is_a_capability_error():
    with client("chat_tools_unsupported") as api, pytest.raises(CapabilityError) as err:
        api.chat("qwenkit-live-tiny", HELLO)
    assert err.value.capability == "tools" and err.value.status_code == 400
    assert "does not support tools" in str(err.value)
    assert "TEMPLATE" in (err.value.hint or "") and "qwenkit-agent" in (err.value.hint or "")


def test_thinking_and_embeddings_are_capability_errors():
    with client("chat_think_unsupported") as api, pytest.raises(CapabilityError) as think:
        api.chat("qwenkit-live-tiny", HELLO, think=True)
    assert think.value.capability == "thinking"
    with client("embed_unsupported") as api, pytest.raises(CapabilityError) as embed:
        api.embed("qwenkit-live-tiny", "hello")
    assert embed.value.status_code == 501 and embed.value.capability == "embedding"
    assert str(embed.value).startswith("qwenkit-live-tiny does not support embedding")
    assert "embedding model" in (embed.value.hint or "")


def test_missing_blob_is_the_same_error_class_streamed_or_not():
    with client("create_missing_blob") as api, pytest.raises(ResponseError) as once:
        api.create("scn-x", files={"gone.gguf": "sha256:" + "0" * 64})
    with client("create_missing_blob_stream") as api, pytest.raises(ResponseError) as streamed:
        list(api.create("scn-x", files={"gone.gguf": "sha256:" + "0" * 64}, stream=True))
    assert (once.value.status_code, streamed.value.status_code) == (500, 200)
    assert "no such file or directory" in str(once.value)
    assert "no such file or directory" in str(streamed.value)


# --------------------------------------------------------------------------- defect 4


def test_show_tags_and_ps_read_into_the_typed_models():
    with client("show") as api:
        shown = api.show("scn-tiny")
    assert shown.tensors and shown.tensors[0].name and shown.tensors[0].shape
    assert shown.model_info["general.architecture"] == "qwen2"
    assert shown.capabilities == load("show")["json"]["capabilities"]
    with client("tags") as api:
        listed = api.list().models
    assert listed[0].details is not None and listed[0].details.context_length
    assert listed[0].details.embedding_length == 64
    assert listed[0].capabilities
    with client("ps") as api:
        running = api.ps().models
    assert running[0].context_length == load("ps")["json"]["models"][0]["context_length"]


def test_show_parameters_compare_in_any_order():
    text = load("show")["json"]["parameters"]
    backwards = "\n".join(reversed(text.splitlines()))
    assert verify.parse_show_parameters(text) == {"stop": ["<|im_start|>", "<|im_end|>"]}
    expected = {"stop": ["<|im_end|>", "<|im_start|>"]}
    for order in (text, backwards):
        assert parameter_mismatches(expected, verify.parse_show_parameters(order)) == []


# --------------------------------------------------------------------------- defect 5


BUSY = "server busy, please try again.  maximum pending requests exceeded"


def _busy() -> dict[str, Any]:
    return {"status": 503, "content_type": "application/json", "json": {"error": BUSY}}


def test_verification_retries_a_busy_server_before_failing(monkeypatch):
    """One 503 from the warm-up chat used to fail setup with exit 5 and "(expected )"."""
    monkeypatch.setattr(verify, "BUSY_RETRY", RetryPolicy(attempts=3, base_delay=0.0))
    answers = {"/api/chat": [_busy(), load("chat")], "/api/tags": [load("tags")],
               "/api/ps": [load("ps")]}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        entry = answers[request.url.path].pop(0)
        return httpx.Response(entry["status"], json=entry["json"])

    model = load("ps")["json"]["models"][0]["name"]
    ctx = load("ps")["json"]["models"][0]["context_length"]
    api = qwenkit.Client("http://ollama.test", transport=httpx.MockTransport(handler))
    context, offload = check_loaded(api, ExpectedModel(model, ctx), placement="cpu")
    assert context.status == "pass" and offload.status == "pass"
    assert not any(answers.values())


def test_a_server_that_stays_busy_fails_the_check_with_what_was_expected(monkeypatch):
    monkeypatch.setattr(verify, "BUSY_RETRY", RetryPolicy(attempts=3, base_delay=0.0))
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, json=_busy()["json"])

    api = qwenkit.Client("http://ollama.test", transport=httpx.MockTransport(handler))
    [load_check] = check_loaded(api, ExpectedModel("m", 4096), placement="cpu")
    assert load_check.status == "fail" and len(calls) == 3
    assert "server busy" in load_check.detail and load_check.expected


def test_a_check_without_expected_text_prints_no_empty_parentheses(capsys):
    from qwenkit.cli._setup_view import HumanView

    HumanView().show(Check("load", "fail", "warm-up chat failed: boom", model="m"))
    HumanView().show(Check("json", "fail", "not JSON: 'x'", model="m", expected="a JSON object"))
    out = capsys.readouterr().out
    assert "warm-up chat failed: boom\n" in out and "(expected )" not in out
    assert "not JSON: 'x' (expected a JSON object)" in out


def test_a_runner_shared_by_two_models_of_one_blob_is_verified_for_both():
    """Recorded: scn-twin (scn-tiny's blob, another system prompt) answered from scn-tiny's
    runner, which /api/ps lists once, under scn-tiny's name and digest. Verification read it
    as "not listed by /api/ps after a chat" when it matched the twin's own digest only."""
    listed = load("ps_shared")["json"]["models"]
    assert not [m for m in listed if m["name"] == "scn-twin:latest"]
    shows = {"scn-tiny": load("show"), "scn-twin": load("show_twin")}
    answers = {"/api/chat": load("chat_twin"), "/api/ps": load("ps_shared"),
               "/api/tags": load("tags_shared")}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/show":
            name = json.loads(request.content)["model"].removesuffix(":latest")
            entry = shows[name]
        else:
            entry = answers[request.url.path]
        return httpx.Response(entry["status"], json=entry["json"])

    api = qwenkit.Client("http://ollama.test", transport=httpx.MockTransport(handler))
    ctx = listed[0]["context_length"]
    context, offload = check_loaded(api, ExpectedModel("scn-twin", ctx), placement="cpu")
    assert context.status == "pass" and offload.status == "pass"
    assert context.data["context_length"] == ctx
