"""`Client` and `AsyncClient` are twins: the same methods, signatures, overloads and docstrings.

The async twin differs only where it must: `async def`, `aclose`/`__aenter__`/`__aexit__`,
and `Async*Stream` where the sync one returns a `*Stream`.
"""

from __future__ import annotations

import inspect
import re

import pytest
from typing_extensions import get_overloads

from qwenkit.client import AsyncClient, Client

LIFECYCLE = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def _public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(cls).items()
        if not name.startswith("_") and name not in LIFECYCLE.values() and name not in LIFECYCLE
    }


SYNC, ASYNC = _public(Client), _public(AsyncClient)
METHODS = sorted(name for name, member in SYNC.items() if inspect.isfunction(member))


def _sync_view(text: str) -> str:
    """An async annotation as the sync twin would write it."""
    return re.sub(r"\bAsync(?=\w*Stream\b)", "", str(text))


def _signature(func: object) -> list[tuple[object, ...]]:
    sig = inspect.signature(func)  # type: ignore[arg-type]
    params = [
        (p.name, p.kind, repr(p.default), _sync_view(p.annotation)) for p in sig.parameters.values()
    ]
    return [*params, ("->", _sync_view(sig.return_annotation))]


def test_the_same_public_surface():
    assert set(SYNC) == set(ASYNC)
    for sync_name, async_name in LIFECYCLE.items():
        assert hasattr(Client, sync_name) and hasattr(AsyncClient, async_name)


@pytest.mark.parametrize("name", METHODS)
def test_every_method_is_awaited_with_the_same_signature(name):
    sync, asynchronous = getattr(Client, name), getattr(AsyncClient, name)
    assert inspect.iscoroutinefunction(asynchronous)
    assert _signature(asynchronous) == _signature(sync)


@pytest.mark.parametrize("name", METHODS)
def test_the_same_overloads(name):
    sync = [_signature(f) for f in get_overloads(getattr(Client, name))]
    asynchronous = [_signature(f) for f in get_overloads(getattr(AsyncClient, name))]
    assert asynchronous == sync


@pytest.mark.parametrize("name", METHODS)
def test_the_same_docstring(name):
    """Every method says what it does, in both twins; the async one may add a sentence."""
    sync, asynchronous = getattr(Client, name).__doc__, getattr(AsyncClient, name).__doc__
    assert sync, f"Client.{name} has no docstring"
    assert asynchronous and inspect.cleandoc(asynchronous).startswith(inspect.cleandoc(sync))


def test_the_contract_compares_something():
    assert len(METHODS) >= 15
    assert len(get_overloads(Client.chat)) == 3
