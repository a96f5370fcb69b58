"""`qwenkit webui compose|sync|check`: run Open WebUI, sync presets, check the wiring.

Tokens and passwords go from the options straight into request headers/bodies; nothing here
prints them, and `--password` is prompted (hidden) when `--email` is given without it.
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from dataclasses import replace
from pathlib import Path

import click

from .. import webui as lib
from .._common.checks import Check
from .._common.config import is_local_host, resolve_host
from .._common.files import write_text_atomic
from .._common.names import full_name
from ..errors import QwenkitError
from ..hardware import probe
from ..planner import plan
from ..setup.hosts import resolve_hosts
from ..variants import DEFAULT_VARIANTS, model_name
from ..webui import OpenWebUI, check_webui, plan_presets, sync_presets
from ..webui.check import docker_bridge_address
from ..webui.hosts import hosts_disagree
from ._options import check_url, ctx_option, host_option, prefix_option
from ._render import echo_checks, emit_json, json_option
from .setup import split_names

WEBUI_EXAMPLE = "http://localhost:3000"
OPT_URL = click.option(
    "--url",
    required=True,
    callback=check_url(WEBUI_EXAMPLE),
    help=f"Open WebUI's address, e.g. {WEBUI_EXAMPLE}",
)
OPT_HOSTS = host_option(
    "Ollama for qwenkit (default OLLAMA_HOST); repeat it when Open WebUI has several "
    "(OLLAMA_BASE_URLS): the variants are compared across them.",
    multiple=True,
)


def _auth_options(func: click.decorators.FC) -> click.decorators.FC:
    """--token / --email / --password, shared by sync and check."""
    func = click.option(
        "--password", default=None, help="Password for --email (prompted if omitted)."
    )(func)
    func = click.option("--email", default=None, help="Sign in as this Open WebUI user.")(func)
    func = click.option(
        "--token",
        default=None,
        help="API key (sk-...) or JWT; default OPEN_WEBUI_TOKEN. Never printed.",
    )(func)
    return func


def _password(email: str | None, password: str | None) -> str | None:
    """Ask for the password (hidden) when there is a terminal to ask on."""
    if email and password is None:
        if not sys.stdin.isatty():
            raise click.UsageError("--email needs --password when there is no terminal to ask")
        return str(click.prompt(f"Open WebUI password for {email}", hide_input=True))
    return password


@click.group()
def webui() -> None:
    """Pair Open WebUI with the qwenkit variants."""


@webui.command(short_help="Write a docker compose file for Open WebUI and this Ollama.")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the compose file here (atomically) instead of printing it.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=3000,
    show_default=True,
    help="The port Open WebUI is published on.",
)
@click.option("--with-ollama", is_flag=True, help="Run Ollama in compose too (NVIDIA GPUs).")
@click.option("--no-persistent-config", is_flag=True, help="Set ENABLE_PERSISTENT_CONFIG=False.")
@click.option("--force", is_flag=True, help="Overwrite a different existing file.")
@click.option(
    "--ollama-url",
    "ollama_urls",
    multiple=True,
    callback=check_url("http://host.docker.internal:11434"),
    help="Ollama URL as the container reaches it; repeat for several hosts (OLLAMA_BASE_URLS).",
)
@prefix_option()
@json_option
def compose(
    out: Path | None,
    port: int,
    with_ollama: bool,
    no_persistent_config: bool,
    force: bool,
    ollama_urls: tuple[str, ...],
    prefix: str,
    as_json: bool,
) -> None:
    """Write a docker compose file for Open WebUI wired to the qwenkit variants.

    Without -o the YAML goes to stdout (so `> compose.yaml` works) and the rest to stderr.
    """

    env, env_note = _plan_server_env() if with_ollama else ({}, "")
    spec = lib.ComposeSpec(
        port=port,
        default_model=full_name(model_name("chat", prefix)),
        with_ollama=with_ollama,
        ollama_env=env,
        persistent_config=not no_persistent_config,
        ollama_urls=tuple(resolve_hosts(ollama_urls)) if ollama_urls else _env_ollama_urls(),
        host_ollama_port=_env_ollama_port(),
    )
    text = lib.compose_yaml(spec)
    written = write_text_atomic(out, text, force=force) if out else None
    notes = _compose_notes(spec, env_note)
    if as_json:
        emit_json({"compose": text, "path": str(out) if out else None, "result": written, **notes})
        return
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"{written}: {out}  (start it: docker compose -f {out} up -d)")
    _print_notes(notes, err=out is None)


def _env_ollama_port() -> int:
    """The port of this host's Ollama, as OLLAMA_HOST gives it (11434 by default)."""
    return urllib.parse.urlsplit(resolve_host(None)).port or 11434


def _env_ollama_urls() -> tuple[str, ...]:
    """An OLLAMA_HOST on another machine is used as is: the container reaches it directly."""
    url = resolve_host(None)
    return () if is_local_host(url) else (url,)


def _plan_server_env() -> tuple[dict[str, str], str]:
    """The server settings the plan for this machine needs; a safe default if none fits."""

    try:
        return dict(plan(probe(query_server=False)).server_env), ""
    except (QwenkitError, ImportError) as err:
        fallback = {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"}
        return fallback, f"no plan for this machine ({err}); using flash attention + q8_0 KV"


def _compose_notes(spec: object, env_note: str) -> dict[str, object]:

    assert isinstance(spec, lib.ComposeSpec)
    notes: dict[str, object] = {
        "docker_run": lib.docker_run_commands(spec),
        "native": lib.native_commands(spec),
        "security": []
        if spec.with_ollama
        else lib.security_note(docker_bridge_address(), spec.host_ollama_port),
    }
    if env_note:
        notes["note"] = env_note
    return notes


def _print_notes(notes: dict[str, object], *, err: bool) -> None:
    sections = [
        ("Same with docker run:", notes["docker_run"]),
        ("Without Docker (Open WebUI from PyPI, Python 3.11):", notes["native"]),
        ("Ollama's address:", notes["security"]),
    ]
    if notes.get("note"):
        sections.insert(0, ("Note:", [notes["note"]]))
    for title, lines in sections:
        if not isinstance(lines, list) or not lines:
            continue
        click.echo(f"\n{title}", err=err)
        for line in lines:
            click.echo(f"  {line}", err=err)


@webui.command(short_help="Create or update one preset per variant (idempotent).")
@OPT_URL
@_auth_options
@prefix_option()
@click.option(
    "--variants",
    "variant_names",
    multiple=True,
    callback=split_names,
    help="Variants to sync, comma-separated or repeated (default: all created).",
)
@ctx_option("num_ctx to write when no Ollama can be read (else the models' own value is written).")
@OPT_HOSTS
@json_option
def sync(
    url: str,
    token: str | None,
    email: str | None,
    password: str | None,
    prefix: str,
    variant_names: tuple[str, ...],
    ctx: int | None,
    hosts: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create or update one Open WebUI preset per qwenkit variant (idempotent)."""

    # the Ollama Open WebUI uses is read through it; --host (or OLLAMA_HOST) is the fallback,
    # never the bare default address: a num_ctx read from the wrong server is a guess
    urls = resolve_hosts(hosts) if hosts else []
    if not urls and os.environ.get("OLLAMA_HOST", "").strip():
        urls = [resolve_host(None)]
    with OpenWebUI(url) as client:
        client.authenticate(token=token, email=email, password=_password(email, password))
        specs, warnings = plan_presets(
            variant_names or None,
            host=urls[0] if urls else None,
            prefix=prefix,
            ctx=ctx,
            webui=client,
        )
        if len(urls) > 1:  # a preset's num_ctx goes to every host: they must agree
            warnings += hosts_disagree(urls, [spec.id for spec in specs])
        result = sync_presets(client, specs)
    result.warnings[:0] = warnings
    if as_json:
        emit_json(result.to_dict())
        return
    states = dict.fromkeys(result.created, "created")
    states |= dict.fromkeys(result.updated, "updated")
    states |= dict.fromkeys(result.unchanged, "unchanged")
    for spec in result.specs:
        click.echo(f'{states[spec.id]:9}  {spec.id}  "{spec.name}"  num_ctx={spec.num_ctx}')
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


@webui.command(short_help="Check Open WebUI, its Ollama and the variants; a fix each.")
@OPT_URL
@_auth_options
@prefix_option()
@click.option(
    "--variants",
    "variant_names",
    multiple=True,
    callback=split_names,
    help="Variants to check, comma-separated or repeated (default: chat,json,agent).",
)
@click.option("--no-chat", is_flag=True, help="Skip the test chat through Open WebUI.")
@click.option(
    "--ollama-url",
    default=None,
    callback=check_url("http://host.docker.internal:11434"),
    help="The Ollama URL Open WebUI should use (catches a stale one).",
)
@OPT_HOSTS
@json_option
def check(
    url: str,
    token: str | None,
    email: str | None,
    password: str | None,
    prefix: str,
    variant_names: tuple[str, ...],
    no_chat: bool,
    ollama_url: str | None,
    hosts: tuple[str, ...],
    as_json: bool,
) -> None:
    """Check Open WebUI, its Ollama connection and the variants; one fix per failure."""

    urls = resolve_hosts(hosts) if hosts else [resolve_host(None)]
    report = check_webui(
        url,
        token=token,
        email=email,
        password=_password(email, password),
        host=urls[0],
        variants=variant_names or None,
        prefix=prefix,
        chat=not no_chat,
        expected_base_url=ollama_url,
    )
    if len(urls) > 1:
        report = replace(report, checks=[*report.checks, *_host_checks(urls, prefix)])
    if as_json:
        emit_json(report.to_dict())
    else:
        echo_checks(report.checks)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _host_checks(urls: list[str], prefix: str) -> list[Check]:
    """One check per disagreement between the Ollama hosts (or one passing check)."""
    names = [full_name(model_name(v, prefix)) for v in DEFAULT_VARIANTS]
    fix = "run `qwenkit setup` with every --host at once: it gives every host the same num_ctx"
    problems = hosts_disagree(urls, names)
    if not problems:
        return [Check("hosts agree", "pass", f"{len(urls)} Ollama hosts hold the same variants")]
    return [Check("hosts agree", "fail", line, fix) for line in problems]
