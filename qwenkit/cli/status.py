"""`qwenkit status` (alias `doctor`): render `qwenkit.setup.status.StatusReport`.

Exit code: 0 all good, 1 a problem was found, 3 the server is unreachable.
"""

from __future__ import annotations

from pathlib import Path

import click

from .._common.checks import Check
from .._common.units import format_bytes
from ..errors import QwenkitError
from ..setup.hosts import host_dir, resolve_hosts
from ..setup.status import StatusReport, VariantState, connect_and_gather
from ..webui import WebUIReport, check_webui
from ..webui.hosts import disagreements
from ._options import check_url, host_option, prefix_option
from ._render import CHECK_MARKS, check_lines, emit_json, json_option

EXIT_PROBLEMS = 1
EXIT_UNREACHABLE = 3


@click.command()
@host_option(
    "Ollama URL (default: OLLAMA_HOST, then 127.0.0.1:11434); repeat it to check several "
    "hosts and compare their variants.",
    multiple=True,
)
@prefix_option()
@click.option(
    "--out",
    "-o",
    "modelfiles_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("modelfiles"),
    show_default=True,
    help="Where setup wrote the Modelfiles (to compare with the server).",
)
@click.option(
    "--webui",
    "webui_url",
    callback=check_url("http://localhost:3000"),
    help="Also check an Open WebUI at this URL.",
)
@json_option
def status(
    hosts: tuple[str, ...],
    prefix: str,
    modelfiles_dir: Path,
    webui_url: str | None,
    as_json: bool,
) -> None:
    """Check the server, the variants and common pitfalls."""
    if len(hosts) > 1:
        _several(hosts, prefix, modelfiles_dir, as_json)
        return
    host = hosts[0] if hosts else None
    report = connect_and_gather(host, prefix=prefix, modelfiles_dir=modelfiles_dir)
    webui = _webui(webui_url, host, prefix) if webui_url else None
    data = {**report.to_dict(), "webui": webui.to_dict() if webui else None}
    data["ok"] = report.ok and (webui is None or webui.ok)
    if as_json:
        emit_json(data)
    else:
        for line in render(report, webui):
            click.echo(line)
    if not report.reachable:
        raise click.exceptions.Exit(EXIT_UNREACHABLE)
    if not data["ok"]:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def _several(hosts: tuple[str, ...], prefix: str, modelfiles_dir: Path, as_json: bool) -> None:
    """Every host's report, then where the hosts disagree (exit 1 when they do)."""
    urls = resolve_hosts(hosts)
    reports = [
        connect_and_gather(url, prefix=prefix, modelfiles_dir=modelfiles_dir / host_dir(url))
        for url in urls
    ]
    held = {r.host: {v.name: v.num_ctx for v in r.variants} for r in reports if r.reachable}
    differ = disagreements(held)
    if as_json:
        emit_json({"hosts": [r.to_dict() for r in reports], "disagreements": differ})
    else:
        for report in reports:
            click.echo(f"== {report.host} ==")
            for line in render(report):
                click.echo(line)
        click.echo("hosts:" if differ else "hosts: every variant and num_ctx match")
        for line in differ:
            click.echo(f"! {line}")
    if not all(r.reachable for r in reports):
        raise click.exceptions.Exit(EXIT_UNREACHABLE)
    if differ or not all(r.ok for r in reports):
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def _webui(url: str, host: str | None, prefix: str) -> WebUIReport:
    """`webui check`'s report; a check that could not run is its one failed check."""
    try:
        return check_webui(url, host=host, prefix=prefix)
    except QwenkitError as err:
        return WebUIReport(url, None, [Check("open-webui", "fail", str(err), err.hint or "")])


def render(report: StatusReport, webui: WebUIReport | None = None) -> list[str]:
    """The report as lines: server, variants, loaded models, pitfalls, Open WebUI."""
    webui_lines = _webui_lines(webui) if webui is not None else []
    if not report.reachable:
        return [*_check_lines(report.checks), *webui_lines]
    lines = [f"{CHECK_MARKS['pass']} Ollama {report.version} at {report.host}", "variants:"]
    for v in report.variants:
        lines.append(f"  {v.name:<20} num_ctx {v.num_ctx or 'unset'}; {_match(v)}")
    if not report.variants:
        lines.append("  none")
    lines.append("loaded:")
    for m in report.loaded:
        ctx = m.context_length if m.context_length is not None else "?"
        line = f"  {m.name:<20} context {ctx}; {format_bytes(m.size)}, {m.vram_share:.0%} in VRAM"
        also = report.also_answers(m)
        lines.append(line + (f"; also answers {', '.join(also)} (same GGUF)" if also else ""))
    if not report.loaded:
        lines.append("  nothing")
    return [*lines, *_check_lines(report.checks), *webui_lines]


def _match(v: VariantState) -> str:
    if v.matches is None:
        return (
            "its Modelfile has an error" if v.modelfile_error else "no local Modelfile to compare"
        )
    match = "matches its Modelfile" if v.matches else "DIFFERS from its Modelfile"
    return match + (" (your edited file)" if v.edited else "")


def _check_lines(checks: list[Check], indent: str = "") -> list[str]:
    return [indent + line for check in checks for line in check_lines(check)]


def _webui_lines(webui: WebUIReport) -> list[str]:
    head = CHECK_MARKS["pass" if webui.ok else "fail"]
    return [f"{head} Open WebUI at {webui.url}", *_check_lines(webui.checks, "  ")]
