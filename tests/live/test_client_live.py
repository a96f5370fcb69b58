"""Every `Client` / `AsyncClient` call the server supports, against a real Ollama."""

from __future__ import annotations

import os

import pytest

import qwenkit
from qwenkit.types import ChatResponse, GenerateResponse
from tests.live.conftest import LiveModels

pytestmark = pytest.mark.live

HELLO = [{"role": "user", "content": "Say hello."}]
SHORT = {"num_predict": 8, "seed": 1}


@pytest.fixture
def client(live_host: str):
    with qwenkit.Client(live_host) as c:
        yield c


def test_version_list_show_and_ps(client: qwenkit.Client, live_models: LiveModels, server_version):
    assert client.version() == server_version
    listed = {m.name: m for m in client.list().models}
    tiny = listed[f"{live_models.tiny}:latest"]
    assert tiny.size > 0 and tiny.digest and tiny.details is not None
    assert tiny.details.family == "qwen2" and tiny.details.format == "gguf"
    shown = client.show(live_models.tiny)
    assert shown.model_info["general.architecture"] == "qwen2"
    assert shown.model_info["qwen2.context_length"] == 32768
    assert "completion" in shown.capabilities
    assert shown.template and "<|im_start|>" in shown.template  # autodetected ChatML
    assert "tools" in client.show(live_models.tools).capabilities
    assert isinstance(client.ps().models, list)


def test_chat_and_generate_once_and_streamed(client: qwenkit.Client, live_models: LiveModels):
    reply = client.chat(live_models.tiny, HELLO, options=SHORT)
    assert isinstance(reply, ChatResponse) and reply.done
    assert reply.done_reason in ("stop", "length") and reply.message.role == "assistant"
    assert reply.eval_count > 0 and reply.total_duration > 0
    chunks = list(client.chat(live_models.tiny, HELLO, stream=True, options=SHORT))
    assert chunks[-1].done and not any(c.done for c in chunks[:-1])
    assert chunks[-1].done_reason == reply.done_reason
    assert "".join(c.message.content for c in chunks) == reply.message.content  # same seed
    with client.chat(live_models.tiny, HELLO, stream=True, options=SHORT) as stream:
        final = stream.final()
    assert final.message.content == reply.message.content
    assert final.eval_count == reply.eval_count
    done = client.generate(live_models.tiny, "Once upon a time", options=SHORT)
    assert isinstance(done, GenerateResponse) and done.done and done.context
    parts = list(client.generate(live_models.tiny, "Once upon a time", stream=True, options=SHORT))
    assert parts[-1].done and "".join(p.response for p in parts) == done.response


def test_same_seed_gives_the_same_answer(client: qwenkit.Client, live_models: LiveModels):
    first = client.chat(live_models.tiny, HELLO, options={**SHORT, "temperature": 0})
    again = client.chat(live_models.tiny, HELLO, options={**SHORT, "temperature": 0})
    assert first.message.content == again.message.content


def test_done_reasons_of_load_and_unload(client: qwenkit.Client, live_models: LiveModels, unload):
    loaded = client.chat(live_models.tiny)  # no messages: just load
    assert loaded.done and loaded.done_reason == "load"
    digest = next(m.digest for m in client.list().models if m.name == f"{live_models.tiny}:latest")
    running = next(m for m in client.ps().models if m.digest == digest)
    assert running.context_length == 4096  # 0.32 on a CPU (below ~23 GiB VRAM): 4096
    unloaded = client.generate(live_models.tiny, keep_alive=0)
    assert unloaded.done and unloaded.done_reason == "unload"


def test_copy_create_and_delete(client: qwenkit.Client, live_models: LiveModels, tmp_path):
    assert client.copy(live_models.tiny, "qwenkit-live-copy").status in (None, "success")
    assert client.show("qwenkit-live-copy").model_info["general.architecture"] == "qwen2"
    client.delete("qwenkit-live-copy")
    with pytest.raises(qwenkit.errors.ModelNotFoundError):
        client.show("qwenkit-live-copy")
    statuses = [p.status for p in client.create("qwenkit-live-child", from_=live_models.tiny,
                                                 system="Be brief.", stream=True)]  # fmt: skip
    assert statuses[-1] == "success"
    assert client.show("qwenkit-live-child").system == "Be brief."
    assert client.create("qwenkit-live-child", from_=live_models.tiny).status == "success"
    client.delete("qwenkit-live-child")


def test_blobs(client: qwenkit.Client, live_models: LiveModels, tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"qwenkit live blob " + os.urandom(16))  # new to the server every run
    digest = qwenkit.client.file_digest(path)
    assert not client.has_blob(digest)
    assert client.create_blob(path) == digest
    assert client.has_blob(digest)


@pytest.mark.anyio
async def test_async_client_does_the_same(live_host: str, live_models: LiveModels):
    async with qwenkit.AsyncClient(live_host) as client:
        assert await client.version()
        assert any(m.name.startswith(live_models.tiny) for m in (await client.list()).models)
        assert (await client.show(live_models.tiny)).details.family == "qwen2"  # type: ignore[union-attr]
        reply = await client.chat(live_models.tiny, HELLO, options=SHORT)
        assert reply.done and reply.done_reason in ("stop", "length")
        chunks = [c async for c in await client.chat(live_models.tiny, HELLO, stream=True,
                                                       options=SHORT)]  # fmt: skip
        assert chunks[-1].done
        gen = await client.generate(live_models.tiny, "Hi", options=SHORT)
        assert gen.done
        await client.copy(live_models.tiny, "qwenkit-live-acopy")
        await client.delete("qwenkit-live-acopy")
        with pytest.raises(qwenkit.errors.ModelNotFoundError):
            await client.show("qwenkit-live-acopy")
        assert isinstance((await client.ps()).models, list)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
