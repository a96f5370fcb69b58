"""Several Ollama hosts behind one Open WebUI: a plan per host, one context for all.

Open WebUI spreads chats over every backend in `OLLAMA_BASE_URLS` that lists a model of the
same name (a random pick per request, observed with 0.12.4), and a preset's `num_ctx` goes
with every request. So the variants must be identical in name *and* `num_ctx` on every host,
or Ollama reloads the model whenever a request's context differs from the loaded one. Each
host keeps its own quantization (what its hardware holds best); the context is the smallest
any host can hold, and the plan says so.

`plan_hosts` is pure given the profiles; `run_hosts` runs `run_setup` once per host with
that shared context (Modelfiles under `out/<host>/`, since the tags may differ);
`qwenkit.webui.hosts` compares what the hosts actually hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .._common.config import resolve_host
from ..errors import QwenkitError
from ..hardware import HardwareProfile, probe
from ..planner import Plan, plan
from ._run import SetupOptions, run_setup
from .events import Event, Notice

if TYPE_CHECKING:
    from ..longctx import StepProgress


@dataclass(frozen=True)
class HostPlan:
    """One host, the hardware it was planned for, and its plan at the shared context."""

    host: str
    profile: HardwareProfile
    plan: Plan


def resolve_hosts(hosts: Sequence[str]) -> list[str]:
    """Base URLs, in order, each once (`--host a --host a` is one host)."""
    out: list[str] = []
    for host in hosts:
        url = resolve_host(host)
        if url not in out:
            out.append(url)
    if not out:
        raise QwenkitError("no Ollama host given", hint="pass --host URL, once per host")
    return out


def plan_hosts(
    profiles: Mapping[str, HardwareProfile],
    *,
    ctx: int | None = None,
    quant: str | None = None,
    parallel: int = 1,
    allow_fp16: bool = False,
) -> tuple[list[HostPlan], list[str]]:
    """Each host's own plan, then every host at the smallest planned context, with the notes.

    >>> from qwenkit.hardware import GPU
    >>> big = HardwareProfile(gpus=[GPU("nvidia", "RTX 4090", 24 << 30)])
    >>> small = HardwareProfile(gpus=[GPU("nvidia", "RTX 4060", 8 << 30)])
    >>> plans, notes = plan_hosts({"http://a:11434": big, "http://b:11434": small}, ctx=65536)
    >>> [p.plan.num_ctx for p in plans], "smallest planned context wins" in notes[0]
    ([32768, 32768], True)
    """

    def at(profile: HardwareProfile, target: int | None) -> Plan:
        return plan(
            profile, target_ctx=target, quant=quant, parallel=parallel, allow_fp16=allow_fp16
        )

    own = {host: at(profile, ctx) for host, profile in profiles.items()}
    common = min(p.num_ctx for p in own.values())
    notes = []
    if any(p.num_ctx != common for p in own.values()):
        each = ", ".join(f"{host} {p.num_ctx}" for host, p in own.items())
        notes.append(
            f"the smallest planned context wins: every host gets num_ctx {common} (planned: "
            f"{each}); Open WebUI sends a preset's num_ctx to whichever host it picks, and a "
            "host whose loaded context differs reloads the model"
        )
    for host, own_plan in own.items():
        if own_plan.num_ctx != common:  # the same search, capped at the shared context
            own[host] = at(profiles[host], common)
    plans = [HostPlan(host, profiles[host], p) for host, p in own.items()]
    tags = {hp.plan.tag for hp in plans}
    if len(tags) > 1:
        notes.append(
            "the hosts run different quantizations ("
            + ", ".join(f"{hp.host} {hp.plan.quantization}" for hp in plans)
            + "): answers may differ slightly depending on which host Open WebUI picks"
        )
    return plans, notes


def host_dir(host: str) -> str:
    """A directory name for a host's Modelfiles.

    >>> host_dir("http://10.0.0.5:11434"), host_dir("https://gpu-box/ollama")
    ('10.0.0.5_11434', 'gpu-box_ollama')
    """
    return re.sub(r"[^A-Za-z0-9.-]+", "_", host.split("://", 1)[-1]).strip("_")


def run_hosts(
    options: SetupOptions,
    hosts: Sequence[str],
    *,
    confirm: Callable[[Plan], bool] | None = None,
    long_progress: StepProgress | None = None,
    probe_host: Callable[[str], HardwareProfile] | None = None,
) -> Iterator[tuple[str | None, Event | Any]]:
    """`run_setup` on every host at the shared context; yields `(host, event)` pairs (host None
    for the notes about all of them)."""
    urls = resolve_hosts(hosts)
    look = probe_host or (lambda h: probe(host=h, query_server=not options.dry_run))
    plans, notes = plan_hosts(
        {url: look(url) for url in urls},
        ctx=options.ctx,
        quant=options.quant,
        parallel=options.parallel,
        allow_fp16=options.allow_fp16,
    )
    for note in notes:
        yield None, Notice(note, level="note")
    for hp in plans:
        per_host = replace(
            options, host=hp.host, ctx=hp.plan.num_ctx, out=options.out / host_dir(hp.host)
        )
        for event in run_setup(
            per_host, confirm=confirm, profile=hp.profile, long_progress=long_progress
        ):
            yield hp.host, event
