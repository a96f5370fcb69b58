"""How to run Open WebUI next to the qwenkit variants: compose file, `docker run`, no Docker.

All three routes are built from one `ComposeSpec`, as data, so they cannot drift apart. Pure:
nothing here touches the disk or the network (the CLI writes the file).

The wiring mistakes these routes avoid (open-webui.md §1, §5): a container's `127.0.0.1` is the
container itself, `host.docker.internal` resolves on Linux only with the `host-gateway` extra
host, and `OLLAMA_BASE_URL` is read on the first start only, then saved in Open WebUI's database.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._common.yamlfile import dump_yaml

OPEN_WEBUI_IMAGE = "ghcr.io/open-webui/open-webui:main"
OLLAMA_IMAGE = "ollama/ollama:latest"
HOST_GATEWAY = "host.docker.internal:host-gateway"
HOST_OLLAMA_URL = "http://host.docker.internal:11434"
SERVICE_OLLAMA_URL = "http://ollama:11434"
WEBUI_DATA = "/app/backend/data"
DEFAULT_BRIDGE = "172.17.0.1"


@dataclass(frozen=True)
class ComposeSpec:
    """What the user wants: port, default model, and whether Ollama runs in compose too.

    `ollama_env` is the plan's server settings (`OLLAMA_FLASH_ATTENTION`, ...); it only
    matters with `with_ollama`, since a host Ollama is configured by its own service manager.
    """

    port: int = 3000
    default_model: str = "qwenkit-chat"
    with_ollama: bool = False
    ollama_env: Mapping[str, str] = field(default_factory=dict)
    #: several Ollama hosts (`OLLAMA_BASE_URLS`): Open WebUI spreads requests over those that
    #: list a model of the same name; they must be reachable from inside the container
    ollama_urls: tuple[str, ...] = ()
    image: str = OPEN_WEBUI_IMAGE
    ollama_image: str = OLLAMA_IMAGE
    persistent_config: bool = True
    #: the port this host's Ollama listens on (OLLAMA_HOST's), reached via host.docker.internal
    host_ollama_port: int = 11434

    @property
    def ollama_base_url(self) -> str:
        if self.with_ollama:
            return SERVICE_OLLAMA_URL
        return HOST_OLLAMA_URL.replace(":11434", f":{self.host_ollama_port}")


def webui_environment(spec: ComposeSpec) -> dict[str, str]:
    """The Open WebUI container's environment."""
    env = {
        **_ollama_urls(spec, spec.ollama_base_url),
        "DEFAULT_MODELS": spec.default_model,
    }
    if not spec.persistent_config:
        env["ENABLE_PERSISTENT_CONFIG"] = "False"
    return env


def _ollama_urls(spec: ComposeSpec, single: str) -> dict[str, str]:
    """`OLLAMA_BASE_URLS` (`;`-separated) for several hosts, else `OLLAMA_BASE_URL`."""
    if len(spec.ollama_urls) > 1:
        return {"OLLAMA_BASE_URLS": ";".join(spec.ollama_urls)}
    return {"OLLAMA_BASE_URL": spec.ollama_urls[0] if spec.ollama_urls else single}


def compose_config(spec: ComposeSpec) -> dict[str, Any]:
    """The compose file as data (what `compose_yaml` renders)."""
    webui: dict[str, Any] = {
        "image": spec.image,
        "container_name": "open-webui",
        "ports": [f"{spec.port}:8080"],
        "environment": webui_environment(spec),
        "volumes": [f"open-webui:{WEBUI_DATA}"],
        "restart": "unless-stopped",
    }
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {"open-webui": {}}
    if spec.with_ollama:
        services["ollama"] = _ollama_service(spec)
        webui["depends_on"] = ["ollama"]
        volumes["ollama"] = {}
    else:
        webui["extra_hosts"] = [HOST_GATEWAY]
    services["open-webui"] = webui
    return {"services": services, "volumes": volumes}


def _ollama_service(spec: ComposeSpec) -> dict[str, Any]:
    """Ollama with every GPU, the plan's settings, and its port published on loopback only."""
    return {
        "image": spec.ollama_image,
        "container_name": "ollama",
        "environment": dict(spec.ollama_env),
        "volumes": ["ollama:/root/.ollama"],
        # loopback only: the host's `qwenkit setup` reaches it, the network does not
        "ports": ["127.0.0.1:11434:11434"],
        "deploy": {
            "resources": {
                "reservations": {
                    "devices": [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
                }
            }
        },
        "restart": "unless-stopped",
    }


def compose_header(spec: ComposeSpec) -> str:
    """The comment block at the top of the file: how to start it and the two traps."""
    lines = [
        "Open WebUI for the qwenkit variants; written by `qwenkit webui compose`.",
        f"Start: docker compose up -d; then open http://localhost:{spec.port}",
        f"Then: qwenkit webui sync --url http://localhost:{spec.port}",
        "",
        "OLLAMA_BASE_URL is read on the FIRST start only, then saved in the open-webui volume.",
        "To change it later: Admin Settings > Connections, or set ENABLE_PERSISTENT_CONFIG=False",
        "(`qwenkit webui compose --no-persistent-config`), or remove the volume.",
    ]
    if spec.with_ollama:
        lines += [
            "",
            "Ollama runs here too, with the plan's server settings and every NVIDIA GPU",
            "(needs the NVIDIA Container Toolkit; delete `deploy:` for CPU only). Its port is",
            "published on 127.0.0.1 only, so `qwenkit setup` on this host can create the variants.",
        ]
    else:
        lines += [
            "",
            "Ollama runs on this host. The container reaches it via host.docker.internal, so",
            "Ollama must listen on an address the container can reach, not only on 127.0.0.1:",
            "see `qwenkit webui compose` output (safer: the Docker bridge address, not 0.0.0.0).",
        ]
    return "\n".join(lines)


def compose_yaml(spec: ComposeSpec) -> str:
    """The compose file text."""
    return dump_yaml(compose_config(spec), compose_header(spec).splitlines())


def docker_run_commands(spec: ComposeSpec) -> list[str]:
    """The same setup as plain `docker` commands, one per line."""
    env = webui_environment(spec)
    webui = ["docker", "run", "-d", "-p", f"{spec.port}:8080"]
    commands: list[list[str]] = []
    if spec.with_ollama:
        commands.append(["docker", "network", "create", "qwenkit"])
        ollama = ["docker", "run", "-d", "--gpus=all", "--network", "qwenkit"]
        ollama += ["-p", "127.0.0.1:11434:11434", "-v", "ollama:/root/.ollama"]
        for name, value in spec.ollama_env.items():
            ollama += ["-e", f"{name}={value}"]
        commands.append(
            [*ollama, "--name", "ollama", "--restart", "unless-stopped", spec.ollama_image]
        )
        webui += ["--network", "qwenkit"]
    else:
        webui.append(f"--add-host={HOST_GATEWAY}")
    for name, value in env.items():
        webui += ["-e", f"{name}={value}"]
    webui += [
        "-v",
        f"open-webui:{WEBUI_DATA}",
        "--name",
        "open-webui",
        "--restart",
        "unless-stopped",
    ]
    commands.append([*webui, spec.image])
    return [shlex.join(command) for command in commands]


def native_commands(spec: ComposeSpec, *, ollama_url: str | None = None) -> list[str]:
    """The no-Docker route: Open WebUI from PyPI on this host, talking to the host's Ollama.

    No container means no bridge: loopback works, and Ollama can stay on 127.0.0.1.
    """
    url = ollama_url or f"http://127.0.0.1:{spec.host_ollama_port}"
    env = {**_ollama_urls(spec, url), "DEFAULT_MODELS": spec.default_model}
    if not spec.persistent_config:
        env["ENABLE_PERSISTENT_CONFIG"] = "False"
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return [
        "python3.11 -m venv ~/.open-webui && . ~/.open-webui/bin/activate",
        "pip install open-webui",
        f"{assignments} open-webui serve --host 127.0.0.1 --port {spec.port}",
    ]


def security_note(bridge_address: str = DEFAULT_BRIDGE, port: int = 11434) -> list[str]:
    """Where a host Ollama should listen when Open WebUI runs in Docker, and why not 0.0.0.0."""
    return [
        "Ollama listens on 127.0.0.1 by default, which a container cannot reach.",
        "OLLAMA_HOST=0.0.0.0 works but exposes Ollama's API, which has no authentication, to "
        "every machine on your network (anyone can run, pull or delete models).",
        f"Safer when Docker is the only other client: bind to the Docker bridge, "
        f"OLLAMA_HOST={bridge_address} (systemd: `sudo systemctl edit ollama`, add "
        f'[Service] Environment="OLLAMA_HOST={bridge_address}" and After=docker.service; '
        f"local clients then use OLLAMA_HOST={bridge_address} too).",
        "Or skip the bridge on Linux: run Open WebUI with --network=host and "
        f"OLLAMA_BASE_URL=http://127.0.0.1:{port} (the UI is then on port 8080).",
    ]
