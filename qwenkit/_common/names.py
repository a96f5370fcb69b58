"""Ollama model names: as the server lists them, and checked by Ollama's own rules.

Ollama (`types/model/name.go`) reads `[host/][namespace/]model[:tag][@digest]`, fills in
`registry.ollama.ai/library/…:latest`, and accepts a part only if it starts with an ASCII
letter, digit or `_` and continues with those and `-` `_`, plus `.` (not in a namespace) and
`:` (host only); 1–80 characters (a host up to 350). Anything else is answered with a 400
that does not name the model; `check_model_name` refuses it first, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import InvalidRequestError


def model_present(names: Iterable[str], model: str) -> bool:
    """Whether `model` is among local model names (case-insensitive, `:latest` implied).

    >>> model_present(["Qwen2.5:7B-Instruct-Q4_K_M"], "qwen2.5:7b-instruct-q4_K_M")
    True
    >>> model_present(["llama3:latest"], "llama3"), model_present(["llama3:8b"], "llama3")
    (True, False)
    """
    wanted = full_name(model.strip().lower())
    return any(full_name(name.strip().lower()) == wanted for name in names)


def full_name(model: str) -> str:
    """Ollama's listing name: an untagged model is `:latest` (a registry port is no tag).

    >>> full_name("qwenkit-chat"), full_name("qwen2.5:7b"), full_name("host:5000/me/m")
    ('qwenkit-chat:latest', 'qwen2.5:7b', 'host:5000/me/m:latest')
    """
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


_PART = {
    "host": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}"),
    "namespace": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}"),
    "model": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"),
    "tag": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"),
}
_DIGEST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:-]{0,79}")

NAME_HINT = (
    "a model name is [namespace/]model[:tag] made of letters, digits, '_', '-' and '.', "
    "starting with a letter, digit or '_', at most 80 characters a part"
)


def check_model_name(name: str, *, what: str = "model name") -> str:
    """Return `name` if Ollama would accept it, else raise `InvalidRequestError`.

    >>> check_model_name('qwenkit-chat'), check_model_name('qwen2.5:7b-instruct-q4_K_M')
    ('qwenkit-chat', 'qwen2.5:7b-instruct-q4_K_M')
    >>> check_model_name('bad name!')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    qwenkit.errors.InvalidRequestError: invalid model name 'bad name!': ' ' is not allowed ...
    """
    reason = name_problem(name)
    if reason:
        shown = name if len(name) <= 60 else name[:59] + "…"
        raise InvalidRequestError(f"invalid {what} {shown!r}: {reason}", hint=NAME_HINT)
    return name


def name_problem(name: str) -> str | None:
    """Why Ollama would refuse `name`, or None; cut the way `ParseNameBare` cuts it."""
    if not name:
        return "it is empty"
    rest, at, digest = name.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return "the digest after '@' is malformed"
    if at and not rest:
        return None  # "@sha256:…" alone names a model by digest
    parts: dict[str, str] = {}
    if rest.rfind(":") > rest.rfind("/"):
        rest, _, parts["tag"] = rest.rpartition(":")
    for kind in ("model", "namespace"):
        before, slash, after = rest.rpartition("/")
        parts[kind] = after
        if not slash:
            break
        rest = before
    else:
        parts["host"] = rest.partition("://")[2] or rest
    for kind in ("host", "namespace", "model", "tag"):
        if kind in parts and not _PART[kind].fullmatch(parts[kind]):
            return _part_problem(kind, parts[kind])
    return None


def _part_problem(kind: str, part: str) -> str:
    if not part:
        return f"the {kind} is empty"
    limit = 350 if kind == "host" else 80
    if len(part) > limit:
        return f"the {kind} is longer than {limit} characters"
    if not _PART[kind].fullmatch(part[0]):
        return f"the {kind} must start with a letter, a digit or '_'"
    bad = next(c for c in part if not _PART[kind].fullmatch("a" + c))
    return f"{bad!r} is not allowed in the {kind}"
