"""Wire-level helpers that make the fake look like Ollama's Go server byte for byte.

Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029; Go's `%v` prints floats in
the shortest form with an exponent from 1e+06 up; model names follow `model/name.go`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,349}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
DIGEST = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")


def go_json(obj: Any) -> str:
    """Compact JSON escaped the way Go's json.Marshal does it.

    >>> go_json({"stop": ["<|im_end|>"], "a&b": 1})
    '{"stop":["\\\\u003c|im_end|\\\\u003e"],"a\\\\u0026b":1}'
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def go_float(value: float) -> str:
    """Format a float like Go's `%v`: shortest digits, exponent form when exp < -4 or >= 6.

    >>> [go_float(v) for v in (0.7, 8192.0, 123456.0, 1e6, 1.5e-5, -2.0)]
    ['0.7', '8192', '123456', '1e+06', '1.5e-05', '-2']
    """
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent - 1  # decimal exponent of the first digit
    prefix = "-" if sign else ""
    if point < -4 or point >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    if point < 0:
        return f"{prefix}0.{'0' * (-point - 1)}{text}"
    if len(text) <= point + 1:
        return prefix + text + "0" * (point + 1 - len(text))
    return f"{prefix}{text[: point + 1]}.{text[point + 1 :]}"


def go_value(value: Any, *, sharp: bool = False) -> str:
    """Go's `%v` (or `%#v` with sharp=True: strings quoted) for JSON-decoded values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_float(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if sharp else value
    if isinstance(value, list):
        return "[" + " ".join(go_value(v, sharp=sharp) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Name:
    """A parsed model name: host/namespace/model:tag with Ollama's defaults."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def short(self) -> str:
        """The name as `ollama list` shows it."""
        if self.host == DEFAULT_HOST and self.namespace == DEFAULT_NAMESPACE:
            return f"{self.model}:{self.tag}"
        if self.host == DEFAULT_HOST:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return self.full

    @property
    def full(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def key(self) -> str:
        """Names match case-insensitively."""
        return self.full.lower()


def parse_name(text: str) -> Name | None:
    """Parse a model name; None when Ollama would call it invalid.

    >>> parse_name("qwen2.5:7b-instruct").short
    'qwen2.5:7b-instruct'
    >>> parse_name("me/tool").full
    'registry.ollama.ai/me/tool:latest'
    >>> parse_name("bad name") is None, parse_name("") is None
    (True, True)
    """
    rest, tag = text, DEFAULT_TAG
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    parts = rest.split("/")
    if len(parts) > 3:
        return None
    host = parts[-3] if len(parts) == 3 else DEFAULT_HOST
    namespace = parts[-2] if len(parts) >= 2 else DEFAULT_NAMESPACE
    name = Name(host, namespace, parts[-1], tag)
    checks = ((_HOST, name.host), (_NAMESPACE, name.namespace), (_MODEL, name.model), (_TAG, tag))
    return name if all(p.match(v) for p, v in checks) else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_digest(seed: str) -> str:
    """A stable `sha256:<hex>` for simulated blobs that have no real bytes."""
    return "sha256:" + sha256_hex(seed.encode())


def now_utc() -> str:
    """`created_at` as Go's RFC3339Nano in UTC."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def local_time(stamp: float) -> str:
    """`modified_at` / `expires_at`: local time with offset, as Go marshals time.Time."""
    text = datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: Any) -> float | None:
    """Seconds from a keep_alive (number or Go duration); raises ValueError with Go's text.

    >>> parse_keep_alive("5m"), parse_keep_alive(-1), parse_keep_alive("1h30m")
    (300.0, -1.0, 5400.0)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("json: cannot unmarshal bool into Go value of type time.Duration")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    body = text.lstrip("+-")
    if body in ("0", ""):
        if body == "":
            raise ValueError(f'time: invalid duration "{text}"')
        return 0.0
    if re.fullmatch(r"\d+(\.\d*)?", body):
        raise ValueError(f'time: missing unit in duration "{text}"')
    pieces = _DURATION.findall(body)
    if "".join(n + u for n, u in pieces) != body:
        raise ValueError(f'time: invalid duration "{text}"')
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in pieces)
    return -seconds if text.startswith("-") else seconds
