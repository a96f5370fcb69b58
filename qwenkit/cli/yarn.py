"""`qwenkit extend-context SRC DST`: write a YaRN long-context copy of a qwen2 GGUF."""

from __future__ import annotations

from pathlib import Path

import click

from .._common.units import format_bytes
from ..longctx.yarn import extend_context as extend
from ..longctx.yarn import read_context_info
from ._options import FiniteRange
from ._render import ProgressBar, emit_json, json_option


@click.command("extend-context")
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--factor",
    type=FiniteRange(1, 64, min_open=True),
    default=4.0,
    show_default=True,
    help="YaRN scaling factor.",
)
@click.option(
    "--original-context",
    type=int,
    default=None,
    help="Trained context the factor applies to [default: the context SRC declares].",
)
@click.option("--force", is_flag=True, help="Replace DST if it exists.")
@json_option
def extend_context(
    src: Path, dst: Path, factor: float, original_context: int | None, force: bool, as_json: bool
) -> None:
    """Copy the qwen2 GGUF SRC to DST with YaRN metadata (32768 x 4 = 131072 positions).

    Every tensor is copied byte for byte; only the context length and the RoPE scaling keys
    change. Create an Ollama model from DST to run it with num_ctx up to the new length.
    """

    bar = None if as_json else ProgressBar("extend", 0)
    try:
        out = extend(
            src,
            dst,
            factor=factor,
            original_context=original_context,
            progress=bar.update if bar else None,
            overwrite=force,
        )
    finally:
        if bar:
            bar.close()
    info = read_context_info(out)
    size = out.stat().st_size
    if as_json:
        emit_json({"event": "extended", "path": str(out), "size": size, **info.__dict__})
        return
    click.echo(
        f"wrote {out} ({format_bytes(size)}): context {info.context_length}, "
        f"yarn factor {info.factor:g} over {info.original_context}"
    )
