"""What an endpoint hands back to the HTTP layer: a JSON body, text, or an NDJSON stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
TEXT_TYPE = "text/plain; charset=utf-8"


class HttpError(Exception):
    """Answer `status` with `{"error": message}` before anything was streamed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Body:
    """A complete response. `body=None` sends an empty body (delete, copy)."""

    status: int = 200
    body: Any = None
    content_type: str = JSON_TYPE


@dataclass
class StreamError:
    """An `{"error": …}` line; when nothing was sent yet, a real status instead."""

    message: str
    status: int = 500


@dataclass
class Drop:
    """Close the connection without finishing the response."""


@dataclass
class Pause:
    seconds: float


Event = dict[str, Any] | StreamError | Drop | Pause


def last_object(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return objects[-1] if objects else {}


@dataclass
class Stream:
    """NDJSON events; `stream=False` collapses them with `collect` into one JSON body."""

    events: Iterator[Event]
    stream: bool = True
    collect: Callable[[list[dict[str, Any]]], dict[str, Any]] = field(default=last_object)
    error_status: int | None = None  # stream:false errors use this instead of the event's


Response = Body | Stream
