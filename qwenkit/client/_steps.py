"""The two actions of a sans-I/O chat flow, shared by `structured`, `tools` and the drivers.

A flow is a generator that yields `Ask` (send this request, give me the answer) and `Invoke`
(run this tool call, give me its text) and returns the final `ChatResponse`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from ..types import ChatResponse


@dataclass(frozen=True)
class Ask:
    """Flow action: send this `/api/chat` body (a `ChatRequest`), give back the answer.

    `offered` names the tools the request offers: a stream holds back text that may be a
    call to one of them (see `qwenkit.client.tools.CallHoldback`)."""

    request: Any
    offered: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Invoke:
    """Flow action: run this prepared tool call, give back the tool message text."""

    call: Any  # qwenkit.client.tools.Invocation


Flow = Generator["Ask | Invoke", Any, ChatResponse]
