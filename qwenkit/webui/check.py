"""`check_webui`: observe a running Open WebUI (and the Ollama behind it), then diagnose.

The I/O is here, the judgement in `diagnose.py`. A failure to observe is a fact too (an Open
WebUI that does not answer gives a report with a failing check, not an exception), so
`qwenkit status --webui URL` can always print something useful.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import urllib.parse
from collections.abc import Iterable
from dataclasses import replace

from .._common.config import is_local_host, resolve_host
from .._common.names import full_name
from ..errors import OllamaUnavailableError, WebUIError
from ..variants import DEFAULT_VARIANTS, model_name
from ._http import OpenWebUI, detail_text
from ._ollama import ModelSettings, local_listen_addresses, read_models, read_models_through_webui
from .compose import DEFAULT_BRIDGE
from .diagnose import ModelFacts, WebUIFacts, WebUIReport, diagnose

CHAT_PROMPT = "Reply with the single word: ok"


def check_webui(
    url: str,
    *,
    token: str | None = None,
    email: str | None = None,
    password: str | None = None,
    host: str | None = None,
    variants: Iterable[str] | None = None,
    prefix: str = "qwenkit",
    chat: bool = True,
    expected_base_url: str | None = None,
    timeout: float = 30.0,
) -> WebUIReport:
    """Check the pairing at `url`: up, reaching Ollama, each variant listed and chatting.

    `host` is the Ollama qwenkit talks to (default: `OLLAMA_HOST`); `expected_base_url` the
    Ollama URL Open WebUI should use, to catch one frozen in its database.
    """
    facts = gather_facts(
        url,
        token=token,
        email=email,
        password=password,
        host=resolve_host(host),
        variants=variants,
        prefix=prefix,
        chat=chat,
        expected_base_url=expected_base_url,
        timeout=timeout,
    )
    return WebUIReport(facts.url, facts.version, diagnose(facts))


def gather_facts(
    url: str,
    *,
    token: str | None,
    email: str | None,
    password: str | None,
    host: str,
    variants: Iterable[str] | None,
    prefix: str,
    chat: bool,
    expected_base_url: str | None,
    timeout: float,
) -> WebUIFacts:
    """Everything `diagnose` needs, read from Open WebUI, Ollama and this machine."""

    chosen = list(variants or DEFAULT_VARIANTS)
    names = {v: full_name(model_name(v, prefix)) for v in chosen}
    ollama = _read_ollama(host, list(names.values()))
    base = WebUIFacts(
        url=url.rstrip("/"),
        healthy=False,
        expected_base_url=expected_base_url,
        ollama_here=ollama is not None,
        listen_addresses=_listen_addresses(host),
        bridge_address=docker_bridge_address(),
    )
    with OpenWebUI(url, timeout=timeout) as webui:
        try:
            if not webui.health():
                return base
            version = webui.version()
        except WebUIError:
            return base
        try:
            webui.authenticate(token=token, email=email, password=password)
        except WebUIError as err:
            return replace(base, healthy=True, version=version, auth_error=str(err))
        return _observe(webui, base, version, names, ollama, chat=chat)


def _observe(
    webui: OpenWebUI,
    base: WebUIFacts,
    version: str,
    names: dict[str, str],
    ollama: dict[str, ModelSettings | None] | None,
    *,
    chat: bool,
) -> WebUIFacts:
    """The authenticated part: connection, saved URLs, model list, presets, a test chat."""
    response = webui.request("GET", "/ollama/api/version")
    status, detail = response.status_code, detail_text(response)
    if status == 200:  # the Ollama Open WebUI uses wins over the one qwenkit was pointed at
        with contextlib.suppress(OllamaUnavailableError):
            ollama = read_models_through_webui(webui, list(names.values()))
    base_urls = _base_urls(webui)
    listed: tuple[str, ...] = ()
    if status == 200:
        listed = tuple(str(m.get("id")) for m in webui.models(refresh=True))
    models = [
        _model_facts(webui, variant, name, ollama, listed)
        if status == 200
        else ModelFacts(variant, name)
        for variant, name in names.items()
    ]
    if chat and models and models[0].listed:
        models[0] = _try_chat(webui, models[0])  # one chat (first variant) proves the path
    return replace(
        base,
        healthy=True,
        version=version,
        ollama_status=status,
        ollama_detail=detail,
        base_urls=base_urls,
        models_listed=listed,
        models=tuple(models),
    )


def _model_facts(
    webui: OpenWebUI,
    variant: str,
    name: str,
    ollama: dict[str, ModelSettings | None] | None,
    listed: tuple[str, ...],
) -> ModelFacts:
    settings = ollama.get(name) if ollama is not None else None
    preset = _read_preset(webui, name)
    return ModelFacts(
        variant=variant,
        model=name,
        in_ollama=None if ollama is None else settings is not None,
        modelfile_num_ctx=settings.num_ctx if settings else None,
        listed=name in listed,
        preset_num_ctx=_preset_ctx(preset),
        preset_name=str(preset["name"]) if preset and preset.get("name") else None,
    )


def _try_chat(webui: OpenWebUI, facts: ModelFacts) -> ModelFacts:
    try:
        response = webui.chat(facts.model, CHAT_PROMPT)
    except WebUIError as err:
        return replace(facts, chat_status=0, chat_detail=str(err))
    return replace(facts, chat_status=response.status_code, chat_detail=detail_text(response))


def _base_urls(webui: OpenWebUI) -> tuple[str, ...]:
    """The Ollama URLs Open WebUI actually uses (admin only; empty when not allowed)."""
    response = webui.request("GET", "/ollama/config")
    if not response.is_success:
        return ()
    urls = response.json().get("OLLAMA_BASE_URLS") or []
    return tuple(str(u) for u in urls)


def _read_preset(webui: OpenWebUI, model_id: str) -> dict[str, object] | None:
    """The preset at `model_id`; None when there is none or this user may not read it."""
    try:
        return webui.get_preset(model_id)
    except WebUIError:
        return None


def _preset_ctx(preset: dict[str, object] | None) -> int | None:
    if not preset:
        return None
    params = preset.get("params")
    value = params.get("num_ctx") if isinstance(params, dict) else None
    return int(value) if isinstance(value, (int, float, str)) and str(value).isdigit() else None


def _read_ollama(host: str, names: list[str]) -> dict[str, ModelSettings | None] | None:
    try:
        return read_models(host, names)
    except (OllamaUnavailableError, WebUIError):
        return None


def _listen_addresses(host: str) -> tuple[str, ...] | None:
    """Where the local Ollama listens; None when Ollama is remote or this is not Linux."""
    if not is_local_host(host):
        return None
    port = urllib.parse.urlsplit(host).port or 11434
    found = local_listen_addresses(port)
    return tuple(found) if found is not None else None


def docker_bridge_address() -> str:
    """docker0's IPv4 address (what `host-gateway` maps to); the usual default otherwise."""
    try:
        out = subprocess.run(
            ["ip", "-4", "-o", "addr", "show", "docker0"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return DEFAULT_BRIDGE
    return parse_bridge_address(out) or DEFAULT_BRIDGE


def parse_bridge_address(ip_output: str) -> str | None:
    """Pure: the address in `ip -4 -o addr show docker0` output.

    >>> parse_bridge_address("5: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global")
    '172.17.0.1'
    """
    fields = ip_output.split()
    if "inet" in fields and fields.index("inet") + 1 < len(fields):
        return fields[fields.index("inet") + 1].split("/")[0]
    return None
