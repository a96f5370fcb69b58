"""`qwenkit chat [MODEL]`: a streaming terminal chat, for a quick check of a variant.

Like Ollama's own REPL: line editing and history (arrow keys, via `readline`), `/bye` (or
Ctrl-D) quits, `/clear` forgets the conversation, `/help` lists the commands, and Ctrl-C stops
the reply being written without ending the session. The server and the model are checked
before the first prompt. A failed turn is reported and dropped from the history.
"""

from __future__ import annotations

import contextlib
from typing import Any

import click

from ..client import Client
from ..errors import ModelNotFoundError, ResponseError
from ._options import check_model, host_option
from ._render import report_error

COMMANDS = {
    "/bye": "quit (also /exit, /quit, Ctrl-D)",
    "/clear": "forget the conversation so far",
    "/help": "show these commands (Ctrl-C stops a reply, the session goes on)",
}
QUIT = ("/bye", "/exit", "/quit")
VARIANT_SUFFIXES = ("-chat", "-json", "-agent", "-long")


@click.command()
@click.argument("model", required=False, default="qwenkit-chat", callback=check_model)
@host_option()
@click.option("--system", "system_prompt", help="A system prompt for this session.")
def chat(model: str, host: str | None, system_prompt: str | None) -> None:
    """Chat with MODEL in the terminal, streaming [default MODEL: qwenkit-chat].

    /bye quits, /clear forgets the conversation, /help lists the commands; Ctrl-C stops
    a reply without ending the session.
    """
    with contextlib.suppress(ImportError):  # line editing and history for input(); not on Windows
        import readline  # noqa: F401

    with Client(host) as client:
        _check_model(client, model)
        click.echo(f"chatting with {model} (/help for commands, /bye to quit)", err=True)
        history: list[dict[str, Any]] = []
        if system_prompt:
            history.append({"role": "system", "content": system_prompt})
        while (line := _read_line()) is not None:
            command = line.strip()
            if command in QUIT:
                return
            if command == "/help":
                for name, what in COMMANDS.items():
                    click.echo(f"  {name:<7} {what}", err=True)
            elif command == "/clear":
                del history[1 if system_prompt else 0 :]
                click.echo("(conversation cleared)", err=True)
            elif command.startswith("/"):
                click.echo(f"unknown command {command.split()[0]}; /help lists them", err=True)
            elif command:
                _turn(client, model, history, line)


def _check_model(client: Client, model: str) -> None:
    """Reach the server and find the model before the first prompt, not after it."""
    try:
        client.show(model)
    except ModelNotFoundError as err:
        base = model.split(":")[0]
        if base.endswith(VARIANT_SUFFIXES):
            err.hint = "create the qwenkit variants with `qwenkit setup`"
        raise


def _read_line() -> str | None:
    """One line from the user; None at end of input. Ctrl-C here only says how to quit."""
    while True:
        try:
            return input(">>> ")
        except EOFError:
            click.echo("", err=True)
            return None
        except KeyboardInterrupt:
            click.echo("\n(use /bye or Ctrl-D to quit)", err=True)


def _turn(client: Client, model: str, history: list[dict[str, Any]], text: str) -> None:
    history.append({"role": "user", "content": text})
    parts: list[str] = []
    try:
        with client.chat(model, history, stream=True) as stream:
            for chunk in stream:
                piece = chunk.message.content or ""
                parts.append(piece)
                click.echo(piece, nl=False)
    except KeyboardInterrupt:  # stop this reply; the stream is closed by the with block
        history.pop()
        click.echo("\n(stopped)", err=True)
        return
    except ResponseError as err:
        history.pop()
        click.echo("")
        report_error(err)
        return
    click.echo("")
    history.append({"role": "assistant", "content": "".join(parts)})
