"""`qwenkit modelfile VARIANT`: print one variant's Modelfile, or write it atomically."""

from __future__ import annotations

from pathlib import Path

import click

from .._common.files import write_text_atomic
from ..catalog import DEFAULT_QUANT
from ..variants import model_name, render_variant
from ._options import ctx_option, prefix_option, quant_option
from ._render import emit_json, json_option

VARIANT_NAMES = ("chat", "json", "agent", "long")  # = variants.VARIANTS, kept import-free


@click.command()
@click.argument("variant", type=click.Choice(VARIANT_NAMES))
@quant_option("Quantization tag.", default=DEFAULT_QUANT, show_default=True)
@ctx_option("num_ctx  [default: 32768; 131072 for long]")
@click.option("--system", default=None, help="Replace the variant's system prompt ('' = none).")
@click.option("--gguf", default=None, help="long only: the YaRN GGUF path for FROM.")
@prefix_option()
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of printing.",
)
@click.option("--force", is_flag=True, help="Overwrite a different existing file.")
@json_option
def modelfile(
    variant: str,
    quant: str,
    ctx: int | None,
    system: str | None,
    gguf: str | None,
    prefix: str,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Print or write the Modelfile of one qwenkit VARIANT.

    The output can be used as is: `ollama create qwenkit-chat -f qwenkit-chat.Modelfile`.
    """

    if gguf is not None and variant != "long":
        raise click.UsageError("--gguf applies to the long variant only")
    extra = {"gguf": gguf} if gguf is not None else {}
    text = render_variant(variant, quant, ctx, system=system, prefix=prefix, **extra)
    name = model_name(variant, prefix)
    if out is None:
        if as_json:
            emit_json({"event": "modelfile", "model": name, "modelfile": text})
        else:
            click.echo(text, nl=False)
        return
    result = write_text_atomic(out, text, force=force)
    if as_json:
        emit_json({"event": "written", "model": name, "path": str(out), "result": result})
    else:
        click.echo(f"{result}: {out}", err=True)
        click.echo(f"next: ollama create {name} -f {out}", err=True)
