"""`qwenkit deploy vllm`: plan a vLLM deployment from the probe, write compose files per node."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._common.units import format_bytes
from ..catalog import GiB
from ..hardware import probe as probe_hardware
from ._options import FiniteRange
from ._render import emit_json, json_option

if TYPE_CHECKING:
    from ..deploy import VllmPlan


@click.group("deploy")
def deploy() -> None:
    """Serve the model past one machine, on existing engines."""


@deploy.command("vllm", short_help="Plan vLLM for this hardware and write its compose files.")
@click.option("--gpus", type=click.IntRange(1, 64), help="GPUs per node (default: all found).")
@click.option(
    "--nodes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Machines to spread the model over (Ray, pipeline parallel).",
)
@click.option("--ctx", "context", type=click.IntRange(1), help="Context per sequence (32768).")
@click.option(
    "--quant",
    default="auto",
    show_default=True,
    help="auto, bf16, fp8, gptq-int8, awq or gptq-int4 (gptq = gptq-int4).",
)
@click.option(
    "--strategy",
    type=click.Choice(["auto", "replicas", "split"]),
    default="auto",
    show_default=True,
    help="replicas: a copy per GPU group (data parallel); split: one copy over every GPU.",
)
@click.option(
    "--kv-cache-dtype",
    type=click.Choice(["auto", "fp8"]),
    default="auto",
    show_default=True,
    help="KV cache precision (fp8 halves it, where the GPU supports it).",
)
@click.option(
    "--gpu-memory-utilization",
    "utilization",
    type=FiniteRange(0.05, 1.0),
    help="Share of each GPU vLLM may take (0.90, less when the GPU is busy).",
)
@click.option("--vram", type=FiniteRange(1, 4096), help="Plan for GPUs with this many GiB instead.")
@click.option("--compute-capability", "compute", type=FiniteRange(3.0, 20.0), help="e.g. 8.9.")
@click.option(
    "--min-seqs",
    "min_sequences",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Pick the best checkpoint whose copy holds this many full-context sequences.",
)
@click.option(
    "--served-name",
    default="qwen2.5-7b-instruct",
    show_default=True,
    help="The model name clients ask vLLM for.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="The port vLLM's OpenAI-compatible API listens on.",
)
@click.option(
    "--webui-port",
    type=click.IntRange(1, 65535),
    default=3000,
    show_default=True,
    help="The port Open WebUI is published on.",
)
@click.option("--head-address", help="Address of the head node (with --nodes > 1).")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the compose files and the key file here (otherwise only print the plan).",
)
@click.option("--force", is_flag=True, help="Overwrite compose files that differ.")
@click.option("--offline", is_flag=True, help="Do not ask an Ollama server during the probe.")
@json_option
def vllm(
    gpus: int | None,
    nodes: int,
    context: int | None,
    quant: str,
    strategy: str,
    kv_cache_dtype: str,
    utilization: float | None,
    vram: float | None,
    compute: float | None,
    min_sequences: int,
    served_name: str,
    port: int,
    webui_port: int,
    head_address: str | None,
    out: Path | None,
    force: bool,
    offline: bool,
    as_json: bool,
) -> None:
    """Plan vLLM for this hardware (or --vram), print the plan, write compose files with -o."""
    from ..deploy import deployment, every_argv, plan_vllm, write_deployment

    profile = probe_hardware(query_server=not offline)
    plan = plan_vllm(
        profile,
        gpus=gpus,
        nodes=nodes,
        context=context,
        quant=quant,
        strategy=strategy,
        kv_cache_dtype=kv_cache_dtype,
        utilization=utilization,
        vram_bytes=int(vram * GiB) if vram is not None else None,
        compute=compute,
        min_sequences=min_sequences,
        served_name=served_name,
        port=port,
        head_address=head_address,
    )
    deploy_files = deployment(plan, webui_port=webui_port)
    written = write_deployment(deploy_files, out, force=force) if out is not None else []
    if as_json:
        emit_json(
            {
                "plan": plan.to_dict(),
                "argv": every_argv(plan),
                "deployment": deploy_files.to_dict(),
                "written": {str(w.path): w.result for w in written},
            }
        )
        return
    lines = _plan_lines(plan)
    lines += ["vllm serve", *(f"  vllm serve {shlex.join(a)}" for a in every_argv(plan))]
    for title, items in (("Why", plan.reasons), ("Warnings", plan.warnings)):
        if items:
            lines += [title, *(f"  - {item}" for item in items)]
    if written:
        lines += ["Files", *(f"  {w.path}  ({w.result})" for w in written)]
        lines += ["Run, in order", *(f"  {n}. {s}" for n, s in enumerate(deploy_files.steps, 1))]
    else:
        lines.append("Write the compose files (and a new API key) with -o DIR.")
    lines += ["Notes", *(f"  - {note}" for note in deploy_files.notes)]
    click.echo("\n".join(lines))


def _plan_lines(plan: VllmPlan) -> list[str]:
    b, topo = plan.budget, plan.topology
    rows = [
        ("Model", f"{plan.model} ({plan.quantization}), served as {plan.served_name}"),
        ("Context", f"{plan.context} tokens" + ("  (YaRN)" if plan.yarn else "")),
        (
            "GPUs",
            f"{topo.nodes} node(s) × {topo.gpus_per_node} × {plan.gpu.name}: {topo.kind}, "
            f"TP {topo.tensor_parallel} × PP {topo.pipeline_parallel} × {topo.replicas} "
            "replica(s)",
        ),
        (
            "Per GPU",
            f"{format_bytes(b.usable_bytes)} at {plan.utilization:g}: weights "
            f"{format_bytes(b.weights_bytes)}, margin {format_bytes(b.margin_bytes)}, KV "
            f"{format_bytes(max(0, b.kv_pool_bytes))} ({b.kv_tokens} tokens)",
        ),
        ("Concurrency", f"{plan.sequences} sequences of {plan.context} tokens at once"),
    ]
    return ["Plan", *(f"  {label:<12} {value}" for label, value in rows)]
