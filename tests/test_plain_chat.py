"""The quick path of a plain chat sends what the checked path sends, and takes nothing else."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest

import qwenkit
from qwenkit.client import _flow, _plain, _requests

M = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Héllo, 中文?"}]


def checked_body(model: str, messages: Any, stream: bool, **kw: Any) -> Any:
    return json.loads(_requests.chat(_flow.plan_chat(model, messages, stream, **kw).first).body)


@pytest.fixture(autouse=True)
def forget_options():
    _plain._checked_options.clear()
    yield
    _plain._checked_options.clear()


@pytest.mark.parametrize(
    ("messages", "kw"),
    [
        (M, {}),
        (None, {}),
        ((), {"options": {"num_ctx": 8192, "temperature": 0.7}}),
        ([{"role": "user"}], {"options": {"temperature": 1, "seed": 3}}),
        (M, {"options": {}}),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_the_quick_body_is_the_checked_body(messages: Any, kw: dict[str, Any], stream: bool):
    checked = checked_body("qwenkit-chat", messages, stream, **kw)  # also remembers the options
    call = _plain.plain_chat("qwenkit-chat", messages, stream, kw)
    assert call is not None
    assert (call.method, call.path, call.model) == ("POST", "/api/chat", "qwenkit-chat")
    assert json.loads(call.body or b"") == checked


def test_options_take_the_quick_path_only_once_checked():
    options = {"num_ctx": 8192}
    assert _plain.plain_chat("m", M, False, {"options": options}) is None
    checked_body("m", M, False, options=options)
    assert _plain.plain_chat("m", M, False, {"options": dict(options)}) is not None
    # the same values of another type, or another value, were never checked
    for other in ({"num_ctx": 8192.0}, {"num_ctx": True}, {"num_ctx": 8193}, {"num_ctxx": 8192}):
        assert _plain.plain_chat("m", M, False, {"options": other}) is None


@pytest.mark.parametrize(
    ("model", "messages", "kw"),
    [
        ("", M, {}),
        ("m", [{"role": "", "content": "x"}], {}),
        ("m", [{"role": "user", "content": None}], {}),
        ("m", [{"role": "user", "content": "x", "images": ["aGk="]}], {}),
        ("m", [{"role": "user", "content": "x", "nope": 1}], {}),
        ("m", [qwenkit.Message(role="user", content="x")], {}),
        ("m", (m for m in M), {}),
        ("m", M, {"format": "json"}),
        ("m", M, {"options": {"stop": ["\n"]}}),  # unhashable: checked every time
        ("m", M, {"options": {"seed": None}}),  # left out by the checked path
        ("m", [{"role": "user", "content": "a\ud800"}], {}),  # the checked path says why
    ],
)
def test_anything_but_a_plain_chat_takes_the_checked_path(model: str, messages: Any, kw: Any):
    with contextlib.suppress(qwenkit.QwenkitError):  # the checked path refuses some
        checked_body(model, messages, False, **kw)
    assert _plain.plain_chat(model, messages, False, kw) is None


def test_the_client_sends_the_quick_body_and_still_refuses_bad_input():
    bodies: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"model": "m", "message": {"role": "assistant",
                                         "content": "hi"}, "done": True})  # fmt: skip

    client = qwenkit.Client("http://127.0.0.1:9", transport=httpx.MockTransport(answer))
    options = {"temperature": 0.5}
    for _ in range(2):
        assert client.chat("m", M, options=options).message.content == "hi"
    assert bodies[0] == bodies[1] == checked_body("m", M, False, options=options)
    with pytest.raises(qwenkit.InvalidRequestError, match="did you mean 'num_ctx'"):
        client.chat("m", M, options={"num_ctxx": 1})
    with pytest.raises(qwenkit.InvalidRequestError, match="surrogate"):
        client.chat("m", [{"role": "user", "content": "\ud800"}])
    assert len(bodies) == 2
