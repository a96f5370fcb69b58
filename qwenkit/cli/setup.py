"""`qwenkit setup`: parse flags, run `qwenkit.setup.run_setup`, render its events."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..catalog import LONG_CTX
from ..errors import VerificationError
from ..setup import SetupOptions, Summary, run_setup
from ..setup.hosts import run_hosts
from ..variants import DEFAULT_VARIANTS
from ._options import FiniteRange, host_option, plan_options, prefix_option
from ._render import emit_json, json_option_with, report_error
from ._setup_view import HumanView, JsonView

if TYPE_CHECKING:
    from ..planner import Plan

EXIT_CANCELLED = 1
EXIT_INTERRUPTED = 130


def split_names(_ctx: object, _param: object, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--variants chat,json` and `--variants chat --variants json` mean the same.

    >>> split_names(None, None, ("chat, json", "agent"))
    ('chat', 'json', 'agent')
    """
    return tuple(n.strip() for raw in values for n in raw.split(",") if n.strip())


@click.command()
@click.option("--dry-run", is_flag=True, help="Probe, plan and write Modelfiles; no server.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask to confirm the plan.")
@host_option(
    "Ollama URL (default: OLLAMA_HOST, then 127.0.0.1:11434); repeat it for several "
    "hosts behind one Open WebUI (same variants and num_ctx on each).",
    multiple=True,
)
@plan_options
@click.option(
    "--variants",
    multiple=True,
    callback=split_names,
    help="Variants, comma-separated or repeated: chat, json, agent, long "
    "[default: chat,json,agent].",
)
@prefix_option()
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("modelfiles"),
    show_default=True,
    help="Directory for the Modelfiles.",
)
@click.option("--force", is_flag=True, help="Overwrite Modelfiles you edited.")
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check what Ollama loaded (config, offload, a JSON answer, a tool call).",
)
@click.option(
    "--stall-timeout",
    type=FiniteRange(min=0.1, max=86400),
    default=120.0,
    show_default=True,
    help="Seconds without pull progress before the download is retried.",
)
@click.option(
    "--long-check",
    type=click.IntRange(min=1000, max=LONG_CTX),
    help="Also test the long variant with a pass key buried in about N tokens "
    "(needs the long variant: --variants long or --ctx above 32768).",
)
@json_option_with(
    "Print one JSON event per line, the last a summary (needs --yes or --dry-run: it cannot ask)."
)
def setup(
    dry_run: bool,
    yes: bool,
    hosts: tuple[str, ...],
    ctx: int | None,
    quant: str | None,
    parallel: int,
    allow_fp16: bool,
    variants: tuple[str, ...],
    prefix: str,
    out: Path,
    force: bool,
    verify: bool,
    stall_timeout: float,
    long_check: int | None,
    as_json: bool,
) -> None:
    """Probe, plan, pull, create and verify the Qwen variants."""
    if as_json and not (dry_run or yes):
        raise click.UsageError(
            "--json cannot ask for confirmation; pass --yes to proceed, or --dry-run to only plan"
        )
    options = SetupOptions(
        host=hosts[0] if hosts else None,
        quant=quant,
        ctx=ctx,
        parallel=parallel,
        allow_fp16=allow_fp16,
        variants=variants or DEFAULT_VARIANTS,
        prefix=prefix,
        out=out,
        force=force,
        dry_run=dry_run,
        verify=verify,
        stall_timeout=stall_timeout,
        long_check=long_check,
    )
    view: Any = JsonView() if as_json else HumanView()
    # without a terminal the server is still checked first (exit 3), then --yes is asked for
    confirm = None if (yes or dry_run) else _ask if sys.stdin.isatty() else _cannot_ask
    failed: list[dict[str, Any]] = []
    current: str | None = None
    try:
        for host, event in _events(options, hosts, confirm, view):
            if host is not None and host != current:
                current = host  # several hosts: a header before each host's events
                if as_json:
                    emit_json({"event": "host", "host": host})
                else:
                    click.echo(f"== {host} ==")
            view.show(event)
            if isinstance(event, Summary):
                failed += event.failed
            if event.kind == "cancelled":
                raise click.exceptions.Exit(EXIT_CANCELLED)
    except KeyboardInterrupt:
        _interrupted(as_json, view)
    finally:
        view.close()
    if failed:
        _verification_failed(failed)


def _events(
    options: SetupOptions, hosts: tuple[str, ...], confirm: Any, view: Any
) -> Iterator[tuple[str | None, Any]]:
    """`(host, event)`: one host runs `run_setup` as it is; several share one context."""
    if len(hosts) > 1:
        yield from run_hosts(options, hosts, confirm=confirm, long_progress=view.long_progress)
        return
    for event in run_setup(options, confirm=confirm, long_progress=view.long_progress):
        yield None, event


def _verification_failed(failed: list[dict[str, Any]]) -> None:
    """Exit 5; on stderr only, so the summary stays the last `--json` line."""
    names = ", ".join(f"{c['name']} ({c['model']})" for c in failed)
    err = VerificationError(
        f"verification failed: {names}",
        hint="see the failed checks above; each names what it observed and what to change",
    )
    report_error(err)
    raise click.exceptions.Exit(err.exit_code)


def _ask(plan: Plan) -> bool:
    return click.confirm("Proceed with this plan?", default=True)


def _cannot_ask(plan: Plan) -> bool:
    raise click.UsageError(
        "setup changes the Ollama server and there is no terminal to confirm on; "
        "pass --yes to proceed, or --dry-run to only plan"
    )


def _interrupted(as_json: bool, view: Any) -> None:
    view.close()
    message = (
        "interrupted: nothing is half-created (a create is atomic, a pull resumes); "
        "rerun the same command to continue"
    )
    if as_json:
        emit_json({"event": "interrupted", "message": message})
    click.echo(message, err=True)
    raise click.exceptions.Exit(EXIT_INTERRUPTED)
