"""`qwenkit chat [MODEL]`: a streaming terminal chat, for a quick check of a variant.

History is kept for the session; `/exit` (or end of input) quits, `/clear` forgets the
history. A failed turn is reported and dropped from the history, so the chat goes on.
"""

from __future__ import annotations

from typing import Any

import click

from ..client import Client
from ..errors import ResponseError
from ._options import check_model, host_option

COMMANDS_HELP = "/exit quits, /clear forgets the history"


@click.command()
@click.argument("model", required=False, default="qwenkit-chat", callback=check_model)
@host_option()
@click.option("--system", "system_prompt", help="A system prompt for this session.")
def chat(model: str, host: str | None, system_prompt: str | None) -> None:
    """Chat with a variant in the terminal (streaming)."""

    with Client(host) as client:
        click.echo(f"chatting with {model} ({COMMANDS_HELP})", err=True)
        history: list[dict[str, Any]] = []
        if system_prompt:
            history.append({"role": "system", "content": system_prompt})
        while True:
            line = _read_line()
            if line is None or line.strip() in ("/exit", "/quit"):
                return
            if line.strip() == "/clear":
                del history[1 if system_prompt else 0 :]
                click.echo("(history cleared)", err=True)
                continue
            if line.strip():
                _turn(client, model, history, line)


def _read_line() -> str | None:
    try:
        return str(click.prompt(">", prompt_suffix=" ", default="", show_default=False))
    except (EOFError, click.exceptions.Abort):
        return None


def _turn(client: Client, model: str, history: list[dict[str, Any]], text: str) -> None:
    history.append({"role": "user", "content": text})
    parts: list[str] = []
    try:
        with client.chat(model, history, stream=True) as stream:
            for chunk in stream:
                piece = chunk.message.content or ""
                parts.append(piece)
                click.echo(piece, nl=False)
    except ResponseError as err:
        history.pop()
        click.echo("")
        click.secho(f"error: {err}", fg="red", err=True)
        if err.hint:
            click.echo(f"hint: {err.hint}", err=True)
        return
    click.echo("")
    history.append({"role": "assistant", "content": "".join(parts)})
