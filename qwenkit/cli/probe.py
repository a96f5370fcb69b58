"""`qwenkit probe`: the hardware, the plan that fits it, and why."""

from __future__ import annotations

import click

from .._common.units import format_bytes
from ..hardware import GPU, HardwareProfile
from ..hardware import probe as probe_hardware
from ..planner import Plan, plan
from ._options import host_option, plan_options
from ._plan_view import plan_lines, rows
from ._render import emit_json, json_option


@click.command("probe")
@plan_options
@host_option("Ollama server to ask for its version and loaded models.")
@click.option("--offline", is_flag=True, help="Do not contact an Ollama server.")
@json_option
def probe(
    ctx: int | None,
    quant: str | None,
    parallel: int,
    allow_fp16: bool,
    host: str | None,
    offline: bool,
    as_json: bool,
) -> None:
    """Show the hardware and the plan that fits it."""
    profile = probe_hardware(host=host, query_server=not offline)
    chosen = plan(profile, target_ctx=ctx, quant=quant, parallel=parallel, allow_fp16=allow_fp16)
    if as_json:
        emit_json({"hardware": profile.to_dict(), "plan": chosen.to_dict()})
    else:
        click.echo("\n".join(render(profile, chosen)))


def render(profile: HardwareProfile, chosen: Plan) -> list[str]:
    """The human report: hardware rows, plan rows, then reasons, warnings and notes."""
    lines = ["Hardware", *rows(hardware_rows(profile)), *plan_lines(chosen.to_dict())]
    if profile.notes:
        lines += ["Notes", *(f"  - {note}" for note in profile.notes)]
    return lines


def hardware_rows(p: HardwareProfile) -> list[tuple[str, str]]:
    where = " (WSL)" if p.wsl else ""
    where += " (container)" if p.container else ""
    cpu = ", ".join(x for x in (p.cpu_model, _cores(p.cpu_cores), " ".join(p.cpu_flags)) if x)
    rows = [
        ("System", f"{p.os} {p.arch}{where}"),
        ("CPU", cpu or "unknown"),
        ("RAM", f"{_b(p.ram_total_bytes)} total, {_b(p.ram_available_bytes)} available"),
    ]
    rows += [(f"GPU {g.index}", _gpu(g)) for g in p.gpus]
    if not p.gpus:
        rows.append(("GPU", "none found (CPU only)"))
    rows.append(("Disk", f"{_b(p.disk_free_bytes)} free at {p.models_dir}"))
    rows.append(("Ollama", _server(p)))
    return rows


def _gpu(g: GPU) -> str:
    kind = "Metal limit of unified memory" if g.unified else "VRAM"
    free = f", {_b(g.memory_free_bytes)} free" if g.memory_free_bytes is not None else ""
    return f"{g.name} ({g.vendor}): {_b(g.memory_total_bytes)} {kind}{free}"


def _server(p: HardwareProfile) -> str:
    if p.ollama_version is None:
        return "not reached"
    loaded = ", ".join(f"{m.name} ({_b(m.size_vram)} on GPU)" for m in p.loaded)
    return f"{p.ollama_version}" + (f", loaded: {loaded}" if loaded else ", nothing loaded")


def _cores(n: int | None) -> str:
    return f"{n} cores" if n else ""


def _b(n: int | None) -> str:
    return "unknown" if n is None else format_bytes(n)
