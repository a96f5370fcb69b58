"""Options several commands share, checked by the same rules everywhere.

A bad value fails while the command line is parsed, before any probe, pull or write, with
the same `InvalidRequestError` (exit 2) the library raises for it. The checks themselves live
in the library (`_common.config.parse_host`, `_common.names.check_model_name`,
`catalog.quant_tag`); this module only attaches them to options.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .._common.config import parse_host, parse_url
from .._common.names import NAME_HINT, check_model_name, name_problem
from ..catalog import LONG_CTX, MIN_NUM_CTX, QUANTS_TEXT, quant_tag
from ..errors import InvalidRequestError

F = TypeVar("F", bound=Callable[..., Any])


class FiniteRange(click.FloatRange):
    """`click.FloatRange` that also refuses `nan` (which slips past every bound) and `inf`."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


HOST_HELP = "Ollama URL [default: OLLAMA_HOST, then 127.0.0.1:11434]."
CTX_RANGE = click.IntRange(MIN_NUM_CTX, LONG_CTX)


def _host(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    for one in _values(value):
        if not one.strip():
            raise InvalidRequestError(
                "--host is empty", hint="give host[:port], e.g. 127.0.0.1:11434"
            )
        parse_host(one, what="--host")
    return value


def _values(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """An option's value as a tuple, whether it was given once, repeated or not at all."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def host_option(help: str = HOST_HELP, *, multiple: bool = False) -> Callable[[F], F]:
    """`--host` (`hosts` when it may repeat), checked as `OLLAMA_HOST` is; passed on as given."""
    name = "hosts" if multiple else "host"
    return click.option("--host", name, multiple=multiple, callback=_host, help=help)


def check_url(example: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback checking an HTTP(S) URL option (Open WebUI's address), given once or repeated."""

    def callback(_ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        for one in _values(value):
            parse_url(one, what=param.opts[0], example=example)
        return value

    return callback


def check_quant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """`--quant`: one of the qwen2.5:7b-instruct tags (case-insensitive)."""
    if value is not None:
        quant_tag(value)
    return value


def check_prefix(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """`--prefix`: the variants' names (`PREFIX-chat`, …) must be names Ollama accepts."""
    problem = name_problem(f"{value}-chat")
    if problem:
        shown = value if len(value) <= 40 else value[:39] + "…"
        raise InvalidRequestError(f"invalid --prefix {shown!r}: {problem}", hint=NAME_HINT)
    return value


def check_model(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    return check_model_name(value)


def ctx_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    """`--ctx`: num_ctx within the same bounds in every command."""
    return click.option("--ctx", type=CTX_RANGE, help=help, **kwargs)


def quant_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    """`--quant`: a tag of the catalog; the help lists them."""
    return click.option(
        "--quant", callback=check_quant, help=f"{help} One of: {QUANTS_TEXT}.", **kwargs
    )


def prefix_option() -> Callable[[F], F]:
    """`--prefix`: the variants are named PREFIX-chat, PREFIX-json, …"""
    return click.option(
        "--prefix",
        default="qwenkit",
        show_default=True,
        callback=check_prefix,
        help="Model name prefix: the variants are PREFIX-chat, PREFIX-json, ...",
    )


def plan_options(command: F) -> F:
    """The planner's options, the same on `probe` and `setup` (so probe shows what setup does)."""
    for option in reversed(
        [
            ctx_option("Target context in tokens (num_ctx); above 32768 needs the long variant."),
            quant_option("Force a quantization tag."),
            click.option(
                "--parallel",
                type=click.IntRange(1, 64),
                default=1,
                show_default=True,
                help="Requests served at once (each holds a full context).",
            ),
            click.option("--allow-fp16", is_flag=True, help="Let the plan pick fp16 when it fits."),
        ]
    ):
        command = option(command)
    return command
