"""Pairing Open WebUI with the qwenkit variants: run it, sync presets, check the wiring.

* `compose`: a docker compose file, the `docker run` lines and the no-Docker route (pure).
* `presets`: one workspace preset per variant whose `num_ctx` equals the Ollama model's.
* `check` / `diagnose`: observe a running Open WebUI, then name each classic failure and its fix.
"""

from __future__ import annotations

from .._common.checks import Check
from ._http import OpenWebUI
from .check import check_webui, gather_facts
from .compose import (
    ComposeSpec,
    compose_config,
    compose_yaml,
    docker_run_commands,
    native_commands,
    security_note,
)
from .diagnose import ModelFacts, WebUIFacts, WebUIReport, diagnose
from .presets import PresetSpec, SyncResult, build_spec, plan_presets, sync_presets

__all__ = [
    "Check",
    "ComposeSpec",
    "ModelFacts",
    "OpenWebUI",
    "PresetSpec",
    "SyncResult",
    "WebUIFacts",
    "WebUIReport",
    "build_spec",
    "check_webui",
    "compose_config",
    "compose_yaml",
    "diagnose",
    "docker_run_commands",
    "gather_facts",
    "native_commands",
    "plan_presets",
    "security_note",
    "sync_presets",
]
