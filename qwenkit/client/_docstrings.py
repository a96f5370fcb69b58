"""Per-argument descriptions from a function's docstring: Google, reST and numpy styles.

Tool schemas carry them as each parameter's `description` (`tools`); the summary line(s)
become the tool's description.
"""

from __future__ import annotations

import inspect
import re

_ARG_HEADERS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_HEADERS = _ARG_HEADERS | {
    "returns", "return", "yields", "raises", "examples", "example", "notes", "note",
    "see also", "attributes", "warnings", "references", "other parameters",
}  # fmt: skip
_GOOGLE_ARG = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ARG = re.compile(r"^(\w+)\s*(?::.*)?$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description and per-argument text of a Google, reST or numpy docstring.

    >>> parse_docstring("Add.\\n\\nArgs:\\n  a (int): first\\n    number\\nReturns:\\n  sum")
    ('Add.', {'a': 'first number'})
    >>> parse_docstring("Add.\\n\\n:param int a: first\\n:returns: sum")
    ('Add.', {'a': 'first'})
    >>> parse_docstring("Add.\\n\\nParameters\\n----------\\na : int\\n    first")
    ('Add.', {'a': 'first'})
    """
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None  # None = description, "args", "rest", "other"
    numpy, entry_indent, current = False, -1, None
    i = 0
    while i < len(lines):
        line, i = lines[i], i + 1
        text, indent = line.strip(), len(line) - len(line.lstrip())
        underline = lines[i].strip() if i < len(lines) else ""
        if text and len(underline) >= 3 and set(underline) == {"-"}:
            section, numpy, entry_indent, current, i = _open(text), True, -1, None, i + 1
        elif text.endswith(":") and text[:-1].strip().lower() in _HEADERS:
            section, numpy, entry_indent, current = _open(text[:-1]), False, -1, None
        elif (match := _REST_PARAM.match(text)) is not None:
            section, current = "rest", match.group(1)
            params[current] = match.group(2).strip()
        elif text.startswith(":"):
            section, current = "other", None
        elif section is None:
            summary.append(text)
        elif text and section == "args":
            entry_indent = indent if entry_indent < 0 else entry_indent
            match = (_NUMPY_ARG if numpy else _GOOGLE_ARG).match(text)
            if indent <= entry_indent and match is not None:
                current = match.group(1)
                params[current] = "" if numpy else match.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {text}".strip()
        elif text and section == "rest" and current is not None and indent > 0:
            params[current] = f"{params[current]} {text}".strip()
    return " ".join(t for t in summary if t), {k: v for k, v in params.items() if v}


def _open(header: str) -> str:
    return "args" if header.strip().lower() in _ARG_HEADERS else "other"
