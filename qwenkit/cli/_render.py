"""The only place the CLI prints: human text, `--json` lines, errors and progress bars."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO, TypeVar

import click

from .._common.checks import Check
from .._common.units import format_bytes
from ..errors import QwenkitError

F = TypeVar("F", bound=Callable[..., Any])


def json_option_with(help: str) -> Callable[[F], F]:
    """`--json`: machine output; also tells the error renderer to answer in JSON."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta["qwenkit.json"] = True
        return value

    return click.option("--json", "as_json", is_flag=True, callback=remember, help=help)


json_option = json_option_with("Print JSON for machines.")


def emit_json(obj: Any) -> None:
    """One JSON document per line on stdout."""
    click.echo(json.dumps(obj, default=str, separators=(",", ":")))


def report_error(err: QwenkitError, *, as_json: bool = False) -> None:
    """One line saying what went wrong, one saying what to do.

    A message that quotes a huge value is shortened, so the line stays a line.
    """
    if as_json:
        emit_json(
            {"event": "error", "error": type(err).__name__, "message": str(err), "hint": err.hint}
        )
    click.secho(f"error: {_one_line(str(err))}", fg="red", err=True)
    if err.hint:
        click.echo(f"hint: {_one_line(err.hint)}", err=True)


#: how each check status starts its line: setup, status and webui check look alike
CHECK_MARKS = {"pass": "✓", "fail": "✗", "skip": "-", "note": "!"}


def check_lines(check: Check) -> list[str]:
    """A check as text: mark, name, model and what was seen (with what was expected, when it
    failed); below it the hint, unless it passed.

    >>> check_lines(Check("offload", "pass", "100% in VRAM", model="qwenkit-chat"))
    ['✓ offload qwenkit-chat: 100% in VRAM']
    >>> check_lines(Check("context", "fail", "context_length 32768", "use --ctx 32768",
    ...                   model="qwenkit-long", expected="131072"))
    ['✗ context qwenkit-long: context_length 32768 (expected 131072)', '    hint: use --ctx 32768']
    """
    about = f"{check.name} {check.model}" if check.model else check.name
    expected = f" (expected {check.expected})" if check.failed and check.expected else ""
    lines = [f"{CHECK_MARKS[check.status]} {about}: {check.detail}{expected}"]
    if check.hint and check.status != "pass":
        lines.append(f"    hint: {check.hint}")
    return lines


def echo_checks(checks: Iterable[Check]) -> None:
    """Each check's lines on stdout, a failure in red."""
    for check in checks:
        first, *rest = check_lines(check)
        click.secho(first, fg="red" if check.failed else None)
        for line in rest:
            click.echo(line)


def _one_line(text: str, limit: int = 300) -> str:
    """`text` on one line of at most `limit` characters.

    >>> _one_line("a\\nb" + "x" * 400)[-3:], len(_one_line("x" * 400))
    ('xx…', 300)
    """
    flat = " ".join(text.split("\n"))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_duration(seconds: float) -> str:
    """`1:05:09`, `3:07`, `0:04`.

    >>> format_duration(3909), format_duration(187), format_duration(4.2)
    ('1:05:09', '3:07', '0:04')
    """
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """A byte progress bar with rate and ETA.

    On a terminal it redraws one line, sized to the terminal's width at each draw (the bar
    shrinks first, then rate and ETA go, then the label is shortened) and clears what the
    last draw left (`ESC[K`), so a narrow or resized window never wraps. Elsewhere it prints a
    line at each 10 % step, so logs stay readable. Always on stderr: `--json` stays clean.

    (Not `rich`: with it installed, every `import httpx` also imports httpx's own command line
    and rich with it, +25 ms on the client's start-up for a bar this class draws in 60 lines.)
    """

    BAR = 24
    MIN_BAR = 8

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 0)
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.start = time.monotonic()
        self.start_done: int | None = None
        self.done = 0
        self._last_draw = 0.0
        self._last_step = -1
        self._drawn = False

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        if self.start_done is None:
            self.start_done = done
        self.done = done
        if self.interactive:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or done >= self.total:
                self._last_draw = now
                width = shutil.get_terminal_size((80, 24)).columns - 1
                self.stream.write("\r" + self.line(width) + "\x1b[K")
                self.stream.flush()
                self._drawn = True
        else:
            step = int(10 * done / self.total) if self.total else 0
            if step > self._last_step:
                self._last_step = step
                self.stream.write(self.line() + "\n")

    def line(self, width: int | None = None) -> str:
        """The bar as one line of at most `width` characters (any length when None).

        >>> bar = ProgressBar("pull qwen2.5:7b-instruct-q4_K_M", 4 << 30)
        >>> bar.done = 1 << 30
        >>> [len(bar.line(w)) <= w for w in (100, 79, 60, 40, 20)]
        [True, True, True, True, True]
        """
        frac = min(self.done / self.total, 1.0) if self.total else 0.0
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = (self.done - (self.start_done or 0)) / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else None
        sizes = f"{format_bytes(self.done)}/{format_bytes(self.total)}"
        tail = [
            f"{format_bytes(rate)}/s",
            f"ETA {format_duration(eta)}" if eta is not None else "ETA --:--",
        ]
        label = self.label
        for keep in (2, 1, 0):  # drop the ETA, then the rate, before the bar gets too short
            fixed = (
                len(label)
                + len(f" [] {frac * 100:5.1f}%  {sizes}")
                + sum(len(t) + 2 for t in tail[:keep])
            )
            bar_width = self.BAR if width is None else min(self.BAR, width - fixed)
            if bar_width >= self.MIN_BAR or keep == 0:
                break
        bar_width = max(bar_width, self.MIN_BAR)
        filled = int(frac * bar_width)
        bar = "#" * filled + "-" * (bar_width - filled)
        text = "  ".join([f"{label} [{bar}] {frac * 100:5.1f}%", sizes, *tail[:keep]])
        if width is not None and len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        return text

    def close(self) -> None:
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
