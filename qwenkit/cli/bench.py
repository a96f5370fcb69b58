"""`qwenkit bench [MODEL]`: this machine's speed table against its physical limit.

Options are checked before anything is sent, and output paths before the run, so a
two-minute measurement is never lost to a typo in `--report`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import BenchError, InvalidRequestError
from ._options import FiniteRange, host_option
from ._render import emit_json, json_option


def parse_levels(_ctx: object, _param: object, value: str | None) -> tuple[int, ...] | None:
    """`--concurrency 1,2,4,8`.

    >>> parse_levels(None, None, "1, 2,8")
    (1, 2, 8)
    """
    if value is None:
        return None
    try:
        levels = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of whole numbers like 1,2,4,8") from None
    if not levels or any(not 1 <= n <= 1024 for n in levels):
        raise click.BadParameter(f"{value!r}: give levels from 1 to 1024, e.g. 1,2,4,8")
    return levels


def writable(path: Path | None, option: str) -> Path | None:
    """Refuse a path we could not write after the run: a folder, or a missing folder."""
    if path is None:
        return None
    try:
        if path.is_dir():
            raise InvalidRequestError(f"{option} {path} is a folder", hint="give a file name")
        if not path.parent.is_dir():
            raise InvalidRequestError(
                f"{option}: folder {path.parent} does not exist",
                hint="create it, or write elsewhere",
            )
    except OSError as exc:  # a name too long for the file system, say
        raise InvalidRequestError(
            f"{option}: cannot use {path}: {exc.strerror or exc}", hint="give a shorter file name"
        ) from exc
    return path


def load_run(path: Path | None) -> Any:
    if path is None:
        return None
    from ..bench import result_from_dict

    try:
        return result_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise InvalidRequestError(
            f"cannot read {path} as a `qwenkit bench --json` run ({type(err).__name__})",
            hint="save one with `qwenkit bench --json > run.json`",
        ) from None


class Progress:
    """One redrawn line on a terminal; on a log, a line per phase. Always stderr."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.phase = ""

    def __call__(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r" + text[:79].ljust(79))
            sys.stderr.flush()
        elif text.split(":")[0] != self.phase:
            self.phase = text.split(":")[0]
            sys.stderr.write(text + "\n")

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * 79 + "\r")


_PATH = click.Path(path_type=Path)


@click.command()
@click.argument("model", required=False, default="qwenkit-chat")
@host_option()
@click.option("--openai", "openai_url", help="Bench an OpenAI-compatible server at this URL.")
@click.option("--concurrency", callback=parse_levels, help="Levels to sweep [default: 1,2,4,8].")
@click.option("--prompt-tokens", type=click.IntRange(1, 1_000_000), default=256, show_default=True,
              help="Prompt length of each request, in tokens.")  # fmt: skip
@click.option("--output-tokens", type=click.IntRange(1, 1_000_000), default=128, show_default=True,
              help="Tokens each request generates.")  # fmt: skip
@click.option("--requests", type=click.IntRange(1, 100_000), help="Requests per level [2x, >= 4].")
@click.option("--duration", type=FiniteRange(0, 86400, min_open=True), default=20.0,
              show_default=True, help="Seconds per level; then no new request.")  # fmt: skip
@click.option("--long", "long_tokens", type=click.IntRange(1, 1_000_000),
              help="Also time the prefill of one prompt of about N tokens.")  # fmt: skip
@click.option("--bandwidth", type=FiniteRange(0, 1e6, min_open=True), help="GB/s override.")
@click.option("--target-ttft", type=FiniteRange(0, 3600, min_open=True), default=1.0,
              show_default=True, help="Capacity target: first token within S seconds.")  # fmt: skip
@click.option("--target-speed", type=FiniteRange(0, 1e6, min_open=True), default=10.0,
              show_default=True, help="Capacity target: tokens/s per request.")  # fmt: skip
@click.option("--cold", is_flag=True, help="Unload the model first, to time a cold load.")
@click.option("--seed", type=click.IntRange(0, 2**31), default=0, help="Prompt seed.")
@click.option("--report", type=_PATH, help="Write a Markdown report here.")
@click.option("--plot", "plot_path", type=_PATH, help="Draw a PNG here (needs qwenkit[plot]).")
@click.option("--compare", type=_PATH, help="Show this run next to an earlier --json run.")
@json_option
def bench(**options: Any) -> None:
    """Measure this setup: first token, tokens/s, capacity, against the physical limit."""
    from ..bench import Target, run
    from ..bench.report import compare_lines, markdown, terminal_lines

    report = writable(options.pop("report"), "--report")
    plot_path = writable(options.pop("plot_path"), "--plot")
    earlier = load_run(options.pop("compare"))
    as_json = options.pop("as_json")
    target = Target(options.pop("target_ttft"), options.pop("target_speed"))
    options["bandwidth_gbps"] = options.pop("bandwidth")
    options["concurrency"] = options["concurrency"] or (1, 2, 4, 8)
    progress = Progress()
    try:
        result = run(options.pop("model"), **options, target=target, progress=progress)
    finally:
        progress.close()
    if report is not None:
        _write(report, markdown(result))
    if plot_path is not None:
        from ..bench.plot import plot

        plot(result, plot_path)
    if as_json:
        emit_json(result.to_dict())
        return
    lines = terminal_lines(result)
    if earlier is not None:
        lines += ["", *compare_lines(earlier, result)]
    click.echo("\n".join(lines))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise BenchError(
            f"cannot write {path}: {err.strerror or err}", hint="give a path you can write to"
        ) from None
