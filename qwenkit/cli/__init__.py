"""The `qwenkit` command: a thin shell that parses options, calls the library, renders.

Subcommands live in their own modules and are imported only when run, so `qwenkit --help`
never pays for httpx or pydantic. Every `QwenkitError` becomes one line on stderr, a hint,
and the error's exit code; Ctrl-C exits with 130.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from ..errors import QwenkitError
from ._render import report_error

#: command name -> (module:attribute, one-line help shown by `qwenkit --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "setup": ("qwenkit.cli.setup:setup", "Probe, plan, pull, create and verify the Qwen variants."),
    "probe": ("qwenkit.cli.probe:probe", "Show the hardware and the plan that fits it."),
    "modelfile": ("qwenkit.cli.modelfile:modelfile", "Print or write one variant's Modelfile."),
    "status": ("qwenkit.cli.status:status", "Check the server, the variants and common pitfalls."),
    "doctor": ("qwenkit.cli.status:status", "Alias of `status`."),
    "chat": ("qwenkit.cli.chat:chat", "Chat with a variant in the terminal (streaming)."),
    "bench": ("qwenkit.cli.bench:bench", "Measure speed and capacity against the physical limit."),
    "webui": ("qwenkit.cli.webui:webui", "Pair Open WebUI with the qwenkit variants."),
    "deploy": ("qwenkit.cli.deploy:deploy", "Serve the model past one machine (vLLM compose)."),
    "extend-context": (
        "qwenkit.cli.yarn:extend_context",
        "Write a YaRN long-context copy of a qwen2 GGUF.",
    ),
}

EXIT_INTERRUPTED = 130


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target[0].partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QwenkitError as err:
            report_error(err, as_json=bool(ctx.meta.get("qwenkit.json")))
            raise click.exceptions.Exit(err.exit_code) from None
        except (KeyboardInterrupt, click.exceptions.Abort):
            # Ctrl-C anywhere, also at a prompt (click turns it into Abort there)
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's main, with a usage error rendered like every other error: one line, a hint."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as err:
            sys.exit(_usage_error(err))
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException as err:
            err.show()
            sys.exit(err.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error(err: click.UsageError) -> int:
    from ._render import report_error

    command = err.ctx.command_path if err.ctx is not None else "qwenkit"
    report_error(QwenkitError(err.format_message(), hint=f"`{command} --help` lists the options"))
    return err.exit_code


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="qwenkit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Turn a machine with Ollama into a tuned Qwen2.5-7B-Instruct workstation.

    Start with `qwenkit setup` (or `qwenkit setup --dry-run` to only see the plan).
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="qwenkit")
