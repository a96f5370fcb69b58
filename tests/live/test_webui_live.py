"""`qwenkit webui sync/check` with a real Open WebUI in front of a real Ollama.

Runs when the live server is set and the e2e suite's Open WebUI venv is installed
(`bash tests/e2e/install_openwebui.sh`); skipped otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwenkit.variants import DEFAULT_VARIANTS, VARIANTS
from tests.e2e.harness import OpenWebUIProcess, open_webui, run_qwenkit
from tests.live.conftest import LiveModels, create_from_request

pytestmark = pytest.mark.live

CTX = 4096


def installed_open_webui() -> Path | None:
    cache = Path(os.environ.get("QWENKIT_E2E_CACHE", Path.home() / ".cache" / "qwenkit-e2e"))
    for venv in sorted(cache.glob("owui-*")):
        if (venv / ".qwenkit-complete").exists() and (venv / "bin" / "open-webui").exists():
            return venv
    return None


@pytest.fixture(scope="module")
def webui(
    live_host: str, live_models: LiveModels, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenWebUIProcess]:
    venv = installed_open_webui()
    if venv is None:
        pytest.skip("Open WebUI is not installed (bash tests/e2e/install_openwebui.sh)")
    for name in DEFAULT_VARIANTS:
        body = VARIANTS[name].build("q4_K_M", CTX).to_create_request(f"qwenkit-{name}")
        create_from_request(live_host, body)
    data = tmp_path_factory.mktemp("owui")
    with open_webui(venv, data, OLLAMA_BASE_URL=live_host, WEBUI_AUTH="False") as server:
        yield server


def cli_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = run_qwenkit(*args, "--json")
    lines = done.stdout.strip().splitlines()
    assert lines, f"no JSON from qwenkit {args}: rc={done.returncode}\n{done.stderr}"
    return done.returncode, json.loads(lines[-1])


def test_sync_then_check_through_open_webui_to_real_ollama(webui, live_host: str):
    """(Other live tests may have added qwenkit-long; sync handles it like the rest.)"""
    ids = {f"qwenkit-{v}:latest" for v in DEFAULT_VARIANTS}
    rc, first = cli_json("webui", "sync", "--url", webui.url, "--host", live_host)
    assert rc == 0 and ids <= set(first["created"] + first["updated"]), first
    assert {p["num_ctx"] for p in first["presets"] if p["id"] in ids} == {CTX}
    rc, second = cli_json("webui", "sync", "--url", webui.url, "--host", live_host)
    assert rc == 0 and ids <= set(second["unchanged"]) and not second["created"]
    rc, report = cli_json("webui", "check", "--url", webui.url, "--host", live_host)
    assert rc == 0 and report["ok"], report
    chat = [c for c in report["checks"] if c["name"] == "chat"]
    assert chat and all(c["status"] == "pass" for c in chat)
