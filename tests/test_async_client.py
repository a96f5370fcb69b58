"""`AsyncClient`: the same API awaited — endpoints, streams, structured output, async tools."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel

from qwenkit import AsyncClient, ModelNotFoundError, StructuredOutputError
from qwenkit.types import Function, ToolCall

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:11434"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def ndjson(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


async def test_model_endpoints() -> None:
    with respx.mock(base_url=BASE) as api:
        api.get("/api/version").respond(json={"version": "0.12.10"})
        api.get("/api/tags").respond(json={"models": [{"name": "a", "model": "a", "size": 1}]})
        api.get("/api/ps").respond(json={"models": []})
        show = api.post("/api/show").respond(json={"capabilities": ["completion", "tools"]})
        delete = api.delete("/api/delete").respond(404, json={"error": "model 'x' not found"})
        copy = api.post("/api/copy").respond(200)
        async with AsyncClient() as client:
            assert await client.version() == "0.12.10"
            assert (await client.list()).models[0].name == "a"
            assert (await client.ps()).models == []
            assert (await client.show("a")).capabilities == ["completion", "tools"]
            with pytest.raises(ModelNotFoundError):
                await client.delete("x")
            assert (await client.copy("a", "b")).status == "success"
    assert json.loads(show.calls[0].request.content) == {"model": "a"}
    assert json.loads(delete.calls[0].request.content) == {"model": "x"}
    assert json.loads(copy.calls[0].request.content) == {"source": "a", "destination": "b"}


async def test_pull_and_create_stream() -> None:
    lines = ndjson({"status": "pulling manifest"}, {"status": "success"})
    with respx.mock(base_url=BASE) as api:
        pull = api.post("/api/pull").respond(content=lines)
        create = api.post("/api/create").mock(
            side_effect=lambda request: httpx.Response(
                200,
                content=lines if json.loads(request.content)["stream"] else b'{"status":"success"}',
            )
        )
        async with AsyncClient() as client:
            pulled = [p.status async for p in await client.pull("q", stream=True)]
            created = [p.status async for p in await client.create("x", from_="q", stream=True)]
            single = await client.create_from_request({"model": "x", "from": "q"})
    assert pulled == created == ["pulling manifest", "success"]
    assert single.status == "success"
    assert json.loads(pull.calls[0].request.content)["stream"] is True
    assert json.loads(create.calls[0].request.content)["from"] == "q"


async def test_blob_upload(tmp_path: Path) -> None:
    data = b"x" * (3 << 20)
    path = tmp_path / "w.gguf"
    path.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    seen: list[int] = []
    with respx.mock(base_url=BASE) as api:
        api.head(f"/api/blobs/{digest}").respond(404)
        upload = api.post(f"/api/blobs/{digest}").respond(201)
        async with AsyncClient() as client:
            got = await client.create_blob(path, progress=lambda done, total: seen.append(done))
    assert got == digest and upload.calls[0].request.content == data
    assert seen[-1] == len(data)


async def test_embed_and_generate_stream() -> None:
    with respx.mock(base_url=BASE) as api:
        api.post("/api/embed").respond(json={"model": "e", "embeddings": [[1.0]]})
        api.post("/api/generate").respond(
            content=ndjson(
                {"model": "m", "response": "4", "done": False},
                {"model": "m", "response": "", "done": True, "eval_count": 1},
            )
        )
        async with AsyncClient() as client:
            assert (await client.embed("e", "hi")).embeddings == [[1.0]]
            stream = await client.generate("m", "2+2", stream=True)
            final = await stream.final()
    assert final.response == "4" and final.eval_count == 1


class Answer(BaseModel):
    value: int


def chat_server(*messages: dict[str, Any]):
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        message = messages[len(bodies) - 1]
        return httpx.Response(200, json={"model": "m", "message": message, "done": True})

    return httpx.MockTransport(handler), bodies


async def test_structured_output_with_reask() -> None:
    transport, bodies = chat_server(
        {"role": "assistant", "content": '{"value": "many"}'},
        {"role": "assistant", "content": '{"value": 42}'},
    )
    async with AsyncClient(transport=transport) as client:
        reply = await client.chat("m", [{"role": "user", "content": "?"}], response_model=Answer)
    assert reply.parsed == Answer(value=42) and len(bodies) == 2
    assert "value" in bodies[1]["messages"][-1]["content"]


async def test_structured_output_gives_up() -> None:
    bad = {"role": "assistant", "content": "no"}
    transport, _ = chat_server(bad, bad)
    async with AsyncClient(transport=transport) as client:
        with pytest.raises(StructuredOutputError):
            await client.chat("m", [], response_model=Answer, max_retries=1)


async def test_async_tools_run_concurrently_safe_and_sync_tools_too() -> None:
    started: list[str] = []

    async def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: The city.
        """
        started.append(city)
        await asyncio.sleep(0)
        return f"{city}: 20C"

    def shout(text: str) -> str:
        return text.upper()

    calls = [
        ToolCall(function=Function(name="lookup", arguments={"city": "Oslo"})).model_dump(),
        ToolCall(function=Function(name="shout", arguments={"text": "hi"})).model_dump(),
    ]
    transport, bodies = chat_server(
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "assistant", "content": "Oslo is 20C"},
    )
    async with AsyncClient(transport=transport) as client:
        reply = await client.chat("m", [], tools=[lookup, shout], run_tools=True)
    assert reply.message.content == "Oslo is 20C" and started == ["Oslo"]
    results = [m["content"] for m in bodies[1]["messages"] if m["role"] == "tool"]
    assert results == ["Oslo: 20C", "HI"]
    assert bodies[0]["tools"][0]["function"]["parameters"]["properties"]["city"] == {
        "type": "string",
        "description": "The city.",
    }


async def test_streamed_tool_loop() -> None:
    rounds: list[dict[str, Any]] = []
    call = ToolCall(function=Function(name="double", arguments={"x": 4})).model_dump()

    def handler(request: httpx.Request) -> httpx.Response:
        rounds.append(json.loads(request.content))
        first = {"role": "assistant", "content": "", "tool_calls": [call]}
        message = first if len(rounds) == 1 else {"role": "assistant", "content": "8"}
        return httpx.Response(
            200,
            content=ndjson(
                {"model": "m", "message": message, "done": False},
                {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True},
            ),
        )

    async def double(x: int) -> int:
        return 2 * x

    async with AsyncClient(transport=httpx.MockTransport(handler)) as client:
        stream = await client.chat("m", [], tools=[double], run_tools=True, stream=True)
        texts = [chunk.message.content async for chunk in stream]
        final = await stream.final()
    assert "".join(texts) == "8" and final.message.content == "8"
    assert rounds[1]["messages"][-1]["content"] == "8" and rounds[1]["stream"] is True


async def test_many_concurrent_chats_share_one_client() -> None:
    transport, _ = chat_server(*[{"role": "assistant", "content": str(i)} for i in range(20)])
    async with AsyncClient(transport=transport) as client:
        replies = await asyncio.gather(*(client.chat("m", []) for _ in range(20)))
    assert sorted(int(r.message.content) for r in replies) == list(range(20))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
async def test_blob_upload_reads_the_file_off_the_event_loop(tmp_path: Path) -> None:
    """A read that blocks (here a pipe nobody writes to yet) must not stop other tasks."""
    from qwenkit.client._blobs import afile_chunks

    fifo = tmp_path / "slow-disk"
    os.mkfifo(fifo)
    ticked = threading.Event()

    def writer() -> None:
        on_time = ticked.wait(timeout=3)  # set only if the loop kept running meanwhile
        fifo.write_bytes(b"weights" if on_time else b"blocked")

    thread = threading.Thread(target=writer)
    thread.start()

    async def ticker() -> None:
        await asyncio.sleep(0.05)
        ticked.set()

    tick = asyncio.create_task(ticker())
    chunks = [chunk async for chunk in afile_chunks(fifo, None)]
    await tick
    thread.join()
    assert b"".join(chunks) == b"weights"
