"""A tiny block-style YAML writer for the compose file.

pyyaml is not a runtime dependency, and the compose file is plain data (mappings, lists,
strings, numbers, booleans), so a few lines do. Every string is written double-quoted with
JSON escapes — valid YAML — so no value can turn into a boolean, a number or a comment by
accident (`"no"`, `"1"`, `"a: b"`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_INDENT = "  "


def dump(data: Mapping[str, Any], *, header: str = "") -> str:
    """Render `data` as YAML, with `header` as leading `#` comment lines.

    >>> print(dump({"a": {"b": [1, "x"], "c": {}}, "d": True}), end="")
    a:
      b:
        - 1
        - "x"
      c: {}
    d: true
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.extend(_mapping(data, 0))
    return "\n".join(lines) + "\n"


def _mapping(data: Mapping[str, Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    out: list[str] = []
    for key, value in data.items():
        head = f"{pad}{_key(key)}:"
        if _is_block(value):
            out.append(head)
            out.extend(_block(value, depth + 1))
        else:
            out.append(f"{head} {_scalar(value)}")
    return out


def _sequence(items: Sequence[Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            first, *rest = _mapping(item, depth + 1)
            out.append(f"{pad}- {first.lstrip()}")
            out.extend(rest)
        elif _is_block(item):
            out.append(f"{pad}-")
            out.extend(_block(item, depth + 1))
        else:
            out.append(f"{pad}- {_scalar(item)}")
    return out


def _block(value: Any, depth: int) -> list[str]:
    if isinstance(value, Mapping):
        return _mapping(value, depth)
    return _sequence(value, depth)


def _is_block(value: Any) -> bool:
    """Non-empty mappings and lists get their own lines; empty ones are written inline."""
    if isinstance(value, Mapping):
        return bool(value)
    return isinstance(value, (list, tuple)) and bool(value)


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else json.dumps(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return json.dumps(str(value))
