"""Pure diagnosis of an Open WebUI ↔ Ollama pairing: observed facts in, checks with fixes out.

Nothing here does I/O; `check.py` gathers the facts. Each classic failure (open-webui.md §5)
has its own function so each is tested alone:

* Ollama bound to 127.0.0.1 while Open WebUI runs in Docker (#1, #2, #3);
* `host.docker.internal` not resolving on Linux without the host-gateway (#4);
* `OLLAMA_BASE_URL=127.0.0.1` inside a container (#5);
* `OLLAMA_BASE_URL` frozen in Open WebUI's database (#7);
* a model without `num_ctx`, so chats are cut at Ollama's default context (#8-#10);
* a preset `num_ctx` different from the Modelfile's, so Ollama reloads on every switch.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from .._common.checks import Check, failing
from ._http import AUTH_HINT
from .compose import DEFAULT_BRIDGE, HOST_GATEWAY

DOCKER_HOST_NAMES = ("host.docker.internal", "host.containers.internal")


@dataclass(frozen=True)
class ModelFacts:
    """What was observed for one variant's model."""

    variant: str
    model: str  # Ollama model id, e.g. "qwenkit-chat:latest"
    in_ollama: bool | None = None  # None: Ollama not readable from here
    modelfile_num_ctx: int | None = None
    listed: bool = False  # in Open WebUI's /api/models
    preset_num_ctx: int | None = None  # None: no preset, or no num_ctx in it
    chat_status: int | None = None  # HTTP status of the test chat; None: not tried
    chat_detail: str = ""
    preset_name: str | None = None  # the display name, e.g. "qwenkit Chat (32K)"


@dataclass(frozen=True)
class WebUIFacts:
    """Everything `check_webui` observed; the input of `diagnose`."""

    url: str
    healthy: bool
    version: str | None = None
    auth_error: str | None = None
    ollama_status: int | None = None  # /ollama/api/version status; None: not asked
    ollama_detail: str = ""
    base_urls: tuple[str, ...] = ()  # Open WebUI's saved Ollama URLs; () unknown
    expected_base_url: str | None = None
    ollama_here: bool | None = None  # does Ollama answer qwenkit directly?
    listen_addresses: tuple[str, ...] | None = None  # where the local Ollama listens
    bridge_address: str = DEFAULT_BRIDGE
    models_listed: tuple[str, ...] = ()
    models: tuple[ModelFacts, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class WebUIReport:
    """The result of `check_webui`: `.ok` when every check passed."""

    url: str
    version: str | None
    checks: list[Check]

    @property
    def failures(self) -> list[Check]:
        return failing(self.checks)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "version": self.version,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }


def diagnose(facts: WebUIFacts) -> list[Check]:
    """All checks, in the order a user should fix them; later ones stop where earlier fail."""
    checks = [check_up(facts)]
    if not facts.healthy:
        return checks
    if facts.auth_error is not None:
        return [*checks, Check("sign-in", "fail", facts.auth_error, AUTH_HINT)]
    checks.append(check_connection(facts))
    frozen = check_saved_base_url(facts)
    if frozen is not None:
        checks.append(frozen)
    if facts.ollama_status != 200:
        return checks
    checks.append(check_models_listed(facts))
    for model in facts.models:
        checks.extend(check_model(model))
    return checks


def check_up(facts: WebUIFacts) -> Check:
    if facts.healthy:
        return Check("open-webui", "pass", f"Open WebUI {facts.version or '?'} at {facts.url}")
    return Check(
        "open-webui",
        "fail",
        f"no answer from {facts.url}/health",
        "start it (`docker compose up -d` with `qwenkit webui compose`) or fix --url",
    )


def check_connection(facts: WebUIFacts) -> Check:
    """Does Open WebUI reach Ollama? If not, which classic cause fits the facts."""
    where = ", ".join(facts.base_urls) or "its configured URL"
    if facts.ollama_status == 200:
        return Check("ollama-connection", "pass", f"Open WebUI reaches Ollama at {where}")
    for rule in (loopback_in_container, bound_to_loopback, docker_host_unresolved):
        found = rule(facts)
        if found is not None:
            return found
    detail = f"Open WebUI cannot reach Ollama at {where} ({facts.ollama_detail or 'no detail'})"
    if facts.ollama_here is False:
        return Check("ollama-connection", "fail", detail, "start Ollama: `ollama serve`")
    return Check(
        "ollama-connection",
        "fail",
        detail,
        "make Open WebUI's Ollama URL reachable from where it runs (Admin Settings > Connections)",
    )


def _hosts(facts: WebUIFacts) -> list[str]:
    return [urllib.parse.urlsplit(u).hostname or "" for u in facts.base_urls]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_in_container(facts: WebUIFacts) -> Check | None:
    """OLLAMA_BASE_URL=127.0.0.1 fails while qwenkit, on the host, reaches Ollama: the
    container's 127.0.0.1 is the container itself."""
    if not any(_is_loopback(h) for h in _hosts(facts)) or facts.ollama_here is not True:
        return None
    return Check(
        "ollama-connection",
        "fail",
        f"Open WebUI uses {', '.join(facts.base_urls)}, which inside a container is the "
        "container itself, not the host where Ollama runs",
        f"set OLLAMA_BASE_URL={'http://host.docker.internal:11434'} with "
        f"--add-host={HOST_GATEWAY} (or run the container with --network=host)",
    )


def bound_to_loopback(facts: WebUIFacts) -> Check | None:
    """Open WebUI goes through the Docker host name, but Ollama listens on loopback only."""
    if not any(h in DOCKER_HOST_NAMES for h in _hosts(facts)):
        return None
    addresses = facts.listen_addresses
    if not addresses or not all(_is_loopback(a) for a in addresses):
        return None
    return Check(
        "ollama-connection",
        "fail",
        f"Ollama listens only on {', '.join(addresses)}, which a container cannot reach",
        f"restart Ollama with OLLAMA_HOST={facts.bridge_address} (the Docker bridge; "
        "0.0.0.0 also works but exposes its unauthenticated API to your network)",
    )


def docker_host_unresolved(facts: WebUIFacts) -> Check | None:
    """Through the Docker host name, with Ollama listening beyond loopback (or unknown):
    on Linux the name resolves only with the host-gateway extra host."""
    if not any(h in DOCKER_HOST_NAMES for h in _hosts(facts)):
        return None
    addresses = facts.listen_addresses
    if addresses is not None and addresses and all(_is_loopback(a) for a in addresses):
        return None
    return Check(
        "ollama-connection",
        "fail",
        "Open WebUI cannot reach host.docker.internal; on Linux the name resolves only when "
        "the container has the host-gateway entry (or a firewall blocks the Docker bridge)",
        f"recreate the container with --add-host={HOST_GATEWAY} "
        f"(compose: extra_hosts: ['{HOST_GATEWAY}'])",
    )


def check_saved_base_url(facts: WebUIFacts) -> Check | None:
    """The URL Open WebUI uses is not the one it was told: frozen in its database (§1.2)."""
    expected = (facts.expected_base_url or "").rstrip("/")
    if not expected or not facts.base_urls:
        return None
    if expected in [u.rstrip("/") for u in facts.base_urls]:
        return Check("ollama-base-url", "pass", f"Open WebUI uses {expected}")
    return Check(
        "ollama-base-url",
        "fail",
        f"Open WebUI uses {', '.join(facts.base_urls)}, not {expected}: OLLAMA_BASE_URL is "
        "read on the first start only, then kept in Open WebUI's database",
        "change it in Admin Settings > Connections (POST /ollama/config/update), or restart "
        "with ENABLE_PERSISTENT_CONFIG=False",
    )


def check_models_listed(facts: WebUIFacts) -> Check:
    if facts.models_listed:
        return Check("models", "pass", f"Open WebUI lists {len(facts.models_listed)} model(s)")
    return Check(
        "models",
        "fail",
        "Open WebUI lists no models although it reaches Ollama",
        "create the qwenkit variants: `qwenkit setup`",
    )


def check_model(model: ModelFacts) -> list[Check]:
    """Listed, context baked and matching the preset, and (if tried) a chat that got through."""
    checks = [check_listed(model)]
    context = check_context(model)
    if context is not None:
        checks.append(context)
    if model.chat_status is not None:
        checks.append(check_chat(model))
    return checks


def check_listed(model: ModelFacts) -> Check:
    about = model.model
    if model.listed:
        return Check("listed", "pass", "in Open WebUI's model list", model=about)
    if model.in_ollama is False:
        return Check("listed", "fail", "not in Ollama", "run `qwenkit setup`", model=about)
    return Check(
        "listed",
        "fail",
        "not in Open WebUI's model list",
        "run `qwenkit setup`, then `qwenkit webui sync`",
        model=about,
    )


def check_context(model: ModelFacts) -> Check | None:
    """Missing `num_ctx` (chats cut at the default) or a preset that disagrees (reloads)."""
    baked = model.modelfile_num_ctx
    if model.in_ollama and baked is None:
        return Check(
            "num_ctx",
            "fail",
            "no num_ctx: Open WebUI sends none, so chats are cut at Ollama's default context "
            "(4K on GPUs under 24 GiB)",
            "re-create the variants with `qwenkit setup` (bakes PARAMETER num_ctx)",
            model=model.model,
        )
    preset = model.preset_num_ctx
    if preset is not None and baked is not None and preset != baked:
        return Check(
            "num_ctx",
            "fail",
            f"preset num_ctx {preset} ≠ Modelfile num_ctx {baked}: Ollama reloads the model "
            "whenever requests switch between them",
            "run `qwenkit webui sync` (sets the preset to the Modelfile's value)",
            model=model.model,
        )
    if baked is None:
        return None
    shown = name_context(model.preset_name)
    if shown is not None and shown != baked:
        return Check(
            "num_ctx",
            "fail",
            f"preset name {model.preset_name!r} says {shown // 1024}K, but the model runs at "
            f"num_ctx {baked}",
            "run `qwenkit webui sync` (names the preset after the model's num_ctx)",
            model=model.model,
        )
    detail = f"num_ctx {baked}" + (" (preset matches)" if preset else "")
    return Check("num_ctx", "pass", detail, model=model.model)


def name_context(display_name: str | None) -> int | None:
    """The context a preset's display name announces: `qwenkit Chat (32K)` → 32768.

    >>> name_context("qwenkit Chat (32K)"), name_context("My own name")
    (32768, None)
    """
    found = re.search(r"\((\d+)K\)\s*$", display_name or "")
    return int(found.group(1)) * 1024 if found else None


def check_chat(model: ModelFacts) -> Check:
    if model.chat_status == 200:
        return Check("chat", "pass", "a chat through Open WebUI got an answer", model=model.model)
    return Check(
        "chat",
        "fail",
        f"a chat through Open WebUI failed (HTTP {model.chat_status}: "
        f"{model.chat_detail or 'no detail'})",
        "check `qwenkit status` for the model, then retry `qwenkit webui check`",
        model=model.model,
    )
