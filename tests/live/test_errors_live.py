"""Each way a real Ollama says no, and the qwenkit error it becomes (the same streamed or not)."""

from __future__ import annotations

import httpx
import pytest

import qwenkit
from qwenkit.errors import (
    CapabilityError,
    IncompleteAnswerError,
    ModelNotFoundError,
    ResponseError,
)
from qwenkit.types import InvalidRequestError
from tests.live.conftest import LiveModels

pytestmark = pytest.mark.live

HELLO = [{"role": "user", "content": "Say hello."}]
MISSING = "qwenkit-live-no-such-model"


@pytest.fixture
def client(live_host: str):
    with qwenkit.Client(live_host) as c:
        yield c


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_in_chat_and_generate(client: qwenkit.Client, stream: bool):
    with pytest.raises(ModelNotFoundError, match=f"model '{MISSING}' not found") as chat:
        list(client.chat(MISSING, HELLO, stream=True)) if stream else client.chat(MISSING, HELLO)
    assert chat.value.status_code == 404 and chat.value.model == MISSING
    with pytest.raises(ModelNotFoundError, match="not found"):
        answer = client.generate(MISSING, "x", stream=stream)
        if stream:
            list(answer)


def test_unknown_model_in_show_delete_and_copy(client: qwenkit.Client):
    with pytest.raises(ModelNotFoundError, match=f"model '{MISSING}:latest' not found"):
        client.show(MISSING)
    with pytest.raises(ModelNotFoundError, match="not found"):
        client.delete(MISSING)
    with pytest.raises(ModelNotFoundError, match=f'model "{MISSING}" not found') as copy:
        client.copy(MISSING, "qwenkit-live-copy-target")
    assert copy.value.model == MISSING


@pytest.mark.parametrize("stream", [False, True])
def test_missing_blob_in_create(client: qwenkit.Client, stream: bool):
    files = {"gone.gguf": "sha256:" + "0" * 64}
    with pytest.raises(ResponseError, match="no such file or directory") as err:
        if stream:
            list(client.create("qwenkit-live-noblob", files=files, stream=True))
        else:
            client.create("qwenkit-live-noblob", files=files)
    assert err.value.status_code == (200 if stream else 500)  # streamed: an error line


def test_wrong_option_type_and_unknown_option(client: qwenkit.Client, live_host: str, live_models):
    """The server fails a wrong type at run time (500) and silently ignores an unknown key:
    qwenkit refuses both before sending, naming the option."""
    raw = httpx.post(f"{live_host}/api/generate", json={"model": live_models.tiny, "prompt": "x",
                     "stream": False, "options": {"num_predict": "four"}}, timeout=120)  # fmt: skip
    assert raw.status_code == 500
    assert raw.json() == {"error": 'option "num_predict" must be of type integer'}
    with pytest.raises(InvalidRequestError, match="num_predict"):
        client.generate(live_models.tiny, "x", options={"num_predict": "four"})
    ignored = httpx.post(f"{live_host}/api/generate", json={"model": live_models.tiny,
                         "prompt": "x", "stream": False, "options": {"num_predict": 1,
                         "num_ctxx": 8}}, timeout=120)  # fmt: skip
    assert ignored.status_code == 200
    with pytest.raises(InvalidRequestError, match="did you mean 'num_ctx'"):
        client.generate(live_models.tiny, "x", options={"num_ctxx": 8})


@pytest.mark.parametrize("stream", [False, True])
def test_model_without_tools(client: qwenkit.Client, live_models: LiveModels, stream: bool):
    tool = {"type": "function", "function": {"name": "now", "description": "time",
            "parameters": {"type": "object", "properties": {}}}}  # fmt: skip
    kwargs = {"tools": [tool], "options": {"num_predict": 4}}
    with pytest.raises(CapabilityError, match="does not support tools") as err:
        if stream:
            list(client.chat(live_models.tiny, HELLO, stream=True, **kwargs))
        else:
            client.chat(live_models.tiny, HELLO, **kwargs)
    assert err.value.status_code == 400 and err.value.capability == "tools"
    assert "TEMPLATE" in (err.value.hint or "") and "qwenkit-agent" in (err.value.hint or "")


def test_model_without_embeddings_or_thinking(client: qwenkit.Client, live_models: LiveModels):
    with pytest.raises(CapabilityError) as embed:
        client.embed(live_models.tiny, "hello")
    assert embed.value.status_code == 501 and embed.value.capability == "embedding"
    assert "embedding model" in (embed.value.hint or "")
    with pytest.raises(CapabilityError, match="does not support thinking") as think:
        client.chat(live_models.tiny, HELLO, think=True)
    assert think.value.capability == "thinking"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("endpoint", ["chat", "generate"])
def test_cut_answer_is_one_error(client: qwenkit.Client, live_models, stream, endpoint, unload):
    """Defect 1: the runner gives up on invalid UTF-8; Ollama answers 200 without done:true."""
    unload.append(live_models.cut)
    call = client.chat if endpoint == "chat" else client.generate
    arg = HELLO if endpoint == "chat" else "Hello"
    with pytest.raises(IncompleteAnswerError, match="ended before it was finished") as err:
        reply = call(live_models.cut, arg, stream=stream, options={"num_predict": 16})
        if stream:
            list(reply)
    assert "server log" in (err.value.hint or "")


def test_bad_json_and_no_source_in_create(live_host: str):
    bad = httpx.post(f"{live_host}/api/chat", content=b"{not json", timeout=30)
    assert bad.status_code == 400 and "error" in bad.json()
    nothing = httpx.post(f"{live_host}/api/create", json={"model": "x", "stream": False})
    assert nothing.status_code == 400
    assert nothing.json() == {"error": "neither 'from' or 'files' was specified"}


def test_pull_without_network_is_a_response_error(client: qwenkit.Client):
    with pytest.raises(ResponseError) as err:
        client.pull("qwenkit-live/not-here:1")
    assert err.value.status_code in (404, 500)  # 500 "pull model manifest: ..." offline
