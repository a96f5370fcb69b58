"""`response_model=`: schema as `format`, validation, re-ask, and clear failures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from qwenkit import Client, StructuredOutputError, TruncatedOutputError
from qwenkit.client.structured import reask_text, strip_fences


class City(BaseModel):
    name: str
    population: int = Field(ge=0)


def scripted(*contents: str, done_reason: str = "stop", stream: bool = False):
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        content = contents[len(bodies) - 1]
        final = {
            "model": "m",
            "message": {"role": "assistant", "content": "" if stream else content},
            "done": True,
            "done_reason": done_reason,
            "eval_count": 7,
        }
        if not stream:
            return httpx.Response(200, json=final)
        pieces = [content[: len(content) // 2], content[len(content) // 2 :]]
        lines = [
            {"model": "m", "message": {"role": "assistant", "content": p}, "done": False}
            for p in pieces
        ]
        return httpx.Response(
            200, content=b"\n".join(json.dumps(x).encode() for x in [*lines, final])
        )

    return Client(transport=httpx.MockTransport(handler)), bodies


ASK = [{"role": "user", "content": "Largest city in Japan?"}]
GOOD = '{"name": "Tokyo", "population": 14000000}'


def test_schema_is_sent_as_format_and_answer_parsed() -> None:
    client, bodies = scripted(GOOD)
    reply = client.chat("m", ASK, response_model=City)
    assert reply.parsed == City(name="Tokyo", population=14000000)
    sent = bodies[0]["format"]
    assert (sent["type"], set(sent["required"])) == ("object", {"name", "population"})
    assert sent["properties"]["population"] == {
        "minimum": 0,
        "title": "Population",
        "type": "integer",
    }
    assert len(bodies) == 1


def test_reask_sends_the_bad_answer_and_the_errors() -> None:
    client, bodies = scripted("Tokyo!", '{"name": "Tokyo", "population": -1}', GOOD)
    reply = client.chat("m", ASK, response_model=City, max_retries=2)
    assert reply.parsed.population == 14000000
    assert len(bodies) == 3
    second = bodies[1]["messages"]
    assert second[:2] == [ASK[0], {"role": "assistant", "content": "Tokyo!"}]
    assert second[2]["role"] == "user" and "Invalid JSON" in second[2]["content"]
    third = bodies[2]["messages"]
    assert third[3] == {"role": "assistant", "content": '{"name": "Tokyo", "population": -1}'}
    assert (
        "population" in third[4]["content"] and "greater than or equal to 0" in third[4]["content"]
    )
    assert all(b["format"] == bodies[0]["format"] for b in bodies)  # the same schema each time
    assert [m.role for m in reply.messages or []][-1] == "assistant"


def test_gives_up_after_max_retries_with_raw_and_errors() -> None:
    client, bodies = scripted('{"name": 1}', '{"name": 2}', '{"name": 3}')
    with pytest.raises(StructuredOutputError) as info:
        client.chat("m", ASK, response_model=City, max_retries=1)
    assert len(bodies) == 2
    assert info.value.raw == '{"name": 2}'
    locs = {tuple(e["loc"]) for e in info.value.errors}
    assert ("name",) in locs and ("population",) in locs
    json.dumps(info.value.errors)  # errors stay serialisable for --json output
    assert "City" in str(info.value) and info.value.hint


def test_zero_retries_means_one_attempt() -> None:
    client, bodies = scripted("nope", GOOD)
    with pytest.raises(StructuredOutputError):
        client.chat("m", ASK, response_model=City, max_retries=0)
    assert len(bodies) == 1


def test_length_cut_raises_truncated_without_retrying() -> None:
    client, bodies = scripted('{"name": "Tok', done_reason="length")
    with pytest.raises(TruncatedOutputError) as info:
        client.chat("m", ASK, response_model=City)
    assert len(bodies) == 1
    assert info.value.raw == '{"name": "Tok' and "num_predict" in (info.value.hint or "")
    assert isinstance(info.value, StructuredOutputError)


def test_streamed_structured_output_shows_text_then_validates() -> None:
    client, bodies = scripted("not json", GOOD, stream=True)
    stream = client.chat("m", ASK, response_model=City, stream=True)
    text = "".join(chunk.message.content for chunk in stream)
    final = stream.final()
    assert text == "not json" + GOOD  # both attempts were streamed
    assert final.parsed == City(name="Tokyo", population=14000000)
    assert final.message.content == GOOD
    assert all(b["stream"] for b in bodies) and len(bodies) == 2


def test_streamed_structured_failure_raises_at_the_end() -> None:
    client, _ = scripted("x", "y", stream=True)
    stream = client.chat("m", ASK, response_model=City, stream=True, max_retries=1)
    with pytest.raises(StructuredOutputError):
        stream.final()


def test_user_format_wins_over_the_model_schema() -> None:
    client, bodies = scripted(GOOD)
    client.chat("m", ASK, response_model=City, format="json")
    assert bodies[0]["format"] == "json"


def test_pydantic_class_as_format_sends_its_schema() -> None:
    client, bodies = scripted(GOOD)
    reply = client.chat("m", ASK, format=City)
    assert set(bodies[0]["format"]["properties"]) == {"name", "population"}
    assert reply.parsed is None


def test_helpers() -> None:
    assert strip_fences("```\n[1]\n```") == "[1]"
    assert "(whole answer)" in reask_text([{"loc": (), "msg": "Invalid JSON"}])
