"""The `parameters` block of `/api/show`: how the server prints a model's Modelfile parameters."""

from __future__ import annotations

import json
from typing import Any


def parse_show_parameters(text: str | None) -> dict[str, Any]:
    """Read `/api/show`'s `parameters` block (name, padding, Go-syntax value) into a dict.

    >>> parse_show_parameters('num_ctx                        32768\\n'
    ...                       'stop                           "<|im_end|>"\\n'
    ...                       'temperature                    0.7')
    {'num_ctx': 32768, 'stop': ['<|im_end|>'], 'temperature': 0.7}
    """
    params: dict[str, Any] = {}
    for raw in (text or "").splitlines():
        name, _, rest = raw.strip().partition(" ")
        if not name:
            continue
        value = _go_value(rest.strip())
        if name == "stop":
            params.setdefault("stop", []).append(value)
        else:
            params[name] = value
    return params


def _go_value(text: str) -> Any:
    """Go `%v`/`%q` printing back to Python: quoted strings, ints, floats, bools."""
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            return text.strip('"')
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
