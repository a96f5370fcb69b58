"""A tiny block-style YAML writer for the compose file.

pyyaml is not a runtime dependency, and the compose file is plain data (mappings, lists,
strings, numbers, booleans), so a few lines do. Every string is written double-quoted (YAML
escapes for anything not printable), so no value can turn into a boolean, a number or a comment by
accident (`"no"`, `"1"`, `"a: b"`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # used with fullmatch: `$` would allow a "\n"
_INDENT = "  "
#: words a YAML 1.1 reader (pyyaml, docker compose's) turns into booleans or null
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


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
    plain = _PLAIN_KEY.fullmatch(key) and key.lower() not in _RESERVED
    return key if plain else _quote(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        mantissa, e, exponent = repr(value).partition("e")
        # YAML 1.1 readers need a dot in the mantissa: `1e-05` would be read as a string
        return mantissa + ("" if "." in mantissa else ".0") + e + exponent
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _quote(str(value))


def _quote(text: str) -> str:
    r"""A YAML double-quoted scalar; `\x`/`\u`/`\U` escapes for non-printable characters.

    >>> print(_quote('a"b\\c\tä\x7f'))
    "a\"b\\c\tä\x7f"
    """
    return '"' + "".join(_ESCAPES.get(ch) or _escape(ch) for ch in text) + '"'


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(ch: str) -> str:
    code = ord(ch)
    if _printable(code):
        return ch
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _printable(code: int) -> bool:
    """YAML 1.1/1.2's printable set, minus the BOM and what readers take as line breaks."""
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    ) and code not in (0x2028, 0x2029)
