"""`qwenkit webui sync/check` against a real Open WebUI 0.12.4 and the fake Ollama.

What the pairing must achieve is asserted on the Ollama side, from the fake's request log:
a chat typed into Open WebUI reaches Ollama with the variant's model name, the Modelfile's
`num_ctx` and the variant's system prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwenkit.variants import DEFAULT_VARIANTS, VARIANTS
from tests.e2e.harness import (
    FakeOllamaProcess,
    OpenWebUIProcess,
    free_port,
    open_webui,
    run_qwenkit,
)

pytestmark = pytest.mark.e2e

CTX = 16384  # not the default plan's 32768, so a match proves it was read from Ollama
BASE = "qwen2.5:7b-instruct-q4_K_M"
ADMIN = {"email": "admin@example.com", "password": "e2e-Admin-pass-7"}


@pytest.fixture(scope="module")
def variants(fake_ollama: FakeOllamaProcess) -> dict[str, str]:
    """The default variants, created in the fake Ollama as `qwenkit setup` would."""
    systems = {}
    for name in DEFAULT_VARIANTS:
        modelfile = VARIANTS[name].build("q4_K_M", CTX)
        fake_ollama.create(f"qwenkit-{name}", modelfile.to_create_request(f"qwenkit-{name}"))
        systems[name] = modelfile.system or ""
    return systems


@pytest.fixture(scope="module")
def webui(
    owui_venv: Path, fake_ollama: FakeOllamaProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenWebUIProcess]:
    data = tmp_path_factory.mktemp("owui")
    with open_webui(owui_venv, data, OLLAMA_BASE_URL=fake_ollama.url, WEBUI_AUTH="False") as s:
        yield s


def cli_json(*args: str) -> tuple[int, dict[str, Any], str]:
    done = run_qwenkit(*args, "--json")
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"no JSON from qwenkit {args}: rc={done.returncode}\n{done.stderr}")
    return done.returncode, data, done.stderr


def test_sync_then_check_reaches_ollama_with_variant_settings(
    webui: OpenWebUIProcess, fake_ollama: FakeOllamaProcess, variants: dict[str, str]
) -> None:
    rc, first, _ = cli_json("webui", "sync", "--url", webui.url, "--host", fake_ollama.url)
    assert rc == 0
    ids = [f"qwenkit-{v}:latest" for v in DEFAULT_VARIANTS]
    assert first["created"] == ids
    assert {p["num_ctx"] for p in first["presets"]} == {CTX}

    rc, second, _ = cli_json("webui", "sync", "--url", webui.url, "--host", fake_ollama.url)
    assert rc == 0 and second["unchanged"] == ids and not second["created"] + second["updated"]

    before = len(fake_ollama.requests("/api/chat"))
    rc, report, err = cli_json("webui", "check", "--url", webui.url, "--host", fake_ollama.url)
    assert rc == 0 and report["ok"], (report, err)
    assert report["version"] == "0.12.4"

    chats = fake_ollama.requests("/api/chat")[before:]
    assert chats, "the test chat never reached Ollama"
    body = chats[-1]["json"]
    assert body["model"] == "qwenkit-chat:latest"
    assert body["options"]["num_ctx"] == CTX
    assert body["messages"][0] == {"role": "system", "content": variants["chat"]}


def test_preset_shows_in_open_webui_under_its_name(
    webui: OpenWebUIProcess, fake_ollama: FakeOllamaProcess, variants: dict[str, str]
) -> None:
    run_qwenkit("webui", "sync", "--url", webui.url, "--host", fake_ollama.url)
    token = _token(webui.url)
    models = httpx.get(f"{webui.url}/api/models", headers=_auth(token), timeout=30).json()["data"]
    names = {m["id"]: m["name"] for m in models}
    assert names["qwenkit-json:latest"].startswith("qwenkit JSON")
    # one entry per variant: the preset overrides the Ollama model in place
    assert sum(1 for m in models if m["id"].startswith("qwenkit-json")) == 1
    before = len(fake_ollama.requests("/api/chat"))
    answer = httpx.post(
        f"{webui.url}/api/chat/completions",
        headers=_auth(token),
        json={"model": "qwenkit-json:latest", "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    [chat] = fake_ollama.requests("/api/chat")[before:]
    assert chat["json"]["messages"][0]["content"] == variants["json"]
    assert chat["json"]["options"]["num_ctx"] == CTX


def test_check_catches_drifted_preset_and_sync_repairs_it(
    webui: OpenWebUIProcess, fake_ollama: FakeOllamaProcess, variants: dict[str, str]
) -> None:
    run_qwenkit("webui", "sync", "--url", webui.url, "--host", fake_ollama.url)
    token = _token(webui.url)
    preset = httpx.get(
        f"{webui.url}/api/v1/models/model",
        params={"id": "qwenkit-chat:latest"},
        headers=_auth(token),
    ).json()
    preset["params"]["num_ctx"] = 2048  # what Open WebUI's own UI pre-fills
    httpx.post(
        f"{webui.url}/api/v1/models/model/update",
        params={"id": preset["id"]},
        json=preset,
        headers=_auth(token),
    ).raise_for_status()

    args = ("webui", "check", "--url", webui.url, "--host", fake_ollama.url, "--no-chat")
    rc, report, _ = cli_json(*args)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert rc == 1 and [(c["name"], c["model"]) for c in failed] == [
        ("num_ctx", "qwenkit-chat:latest")
    ]
    assert "2048" in failed[0]["detail"] and "webui sync" in failed[0]["hint"]

    rc, synced, _ = cli_json("webui", "sync", "--url", webui.url, "--host", fake_ollama.url)
    assert synced["updated"] == ["qwenkit-chat:latest"]
    rc, report, _ = cli_json(*args)
    assert rc == 0 and report["ok"]


def test_sync_without_host_reads_the_ollama_open_webui_uses(
    webui: OpenWebUIProcess, fake_ollama: FakeOllamaProcess, tmp_path: Path
) -> None:
    """The issue's scenario: `setup --host URL` on a CPU plan (8192), then `webui sync` with no
    --host and no OLLAMA_HOST. num_ctx must come from the Ollama behind Open WebUI (its
    /ollama/ proxy), not from a guess at the default address."""
    done = run_qwenkit(
        "setup", "--host", fake_ollama.url, "--yes", "--ctx", "8192", "--prefix", "cpubox",
        "--out", str(tmp_path), "--no-verify",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rc, synced, err = cli_json("webui", "sync", "--url", webui.url, "--prefix", "cpubox")
    assert rc == 0, err
    assert {p["num_ctx"] for p in synced["presets"]} == {8192}
    assert all(p["name"].endswith("(8K)") for p in synced["presets"])
    assert not [w for w in synced["warnings"] if "did not answer" in w]
    args = ("webui", "check", "--url", webui.url, "--prefix", "cpubox", "--no-chat")
    rc, report, _ = cli_json(*args)
    ctx_checks = [c for c in report["checks"] if c["name"] == "num_ctx"]
    assert ctx_checks and all(c["status"] == "pass" for c in ctx_checks), report


def test_check_flags_a_model_without_num_ctx(
    webui: OpenWebUIProcess, fake_ollama: FakeOllamaProcess
) -> None:
    body = VARIANTS["chat"].build("q4_K_M", CTX).to_create_request("bare-chat")
    del body["parameters"]["num_ctx"]
    fake_ollama.create("bare-chat", body)
    args = ("webui", "check", "--url", webui.url, "--host", fake_ollama.url)
    rc, report, _ = cli_json(*args, "--prefix", "bare", "--variants", "chat", "--no-chat")
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    assert rc == 1 and list(failed) == ["num_ctx"]
    assert failed["num_ctx"]["model"] == "bare-chat:latest"
    assert "default context" in failed["num_ctx"]["detail"]


def test_auth_on_sign_in_with_email_and_password(
    owui_venv: Path,
    fake_ollama: FakeOllamaProcess,
    variants: dict[str, str],
    tmp_path: Path,
) -> None:
    env = {
        "OLLAMA_BASE_URL": fake_ollama.url,
        "WEBUI_AUTH": "True",
        "WEBUI_ADMIN_EMAIL": ADMIN["email"],
        "WEBUI_ADMIN_PASSWORD": ADMIN["password"],
        "WEBUI_ADMIN_NAME": "Admin",
        "ENABLE_PERSISTENT_CONFIG": "False",
    }
    with open_webui(owui_venv, tmp_path / "owui", **env) as server:
        base = ("webui", "sync", "--url", server.url, "--host", fake_ollama.url)
        refused = run_qwenkit(*base)
        assert refused.returncode == 1 and "--email" in refused.stderr

        creds = ("--email", ADMIN["email"], "--password", ADMIN["password"])
        done = run_qwenkit(*base, *creds)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("created") == len(DEFAULT_VARIANTS)
        assert ADMIN["password"] not in done.stdout + done.stderr

        token = _token(server.url, **ADMIN)
        check = run_qwenkit(
            "webui", "check", "--url", server.url, "--host", fake_ollama.url,
            env={"OPEN_WEBUI_TOKEN": token},
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        assert token not in check.stdout + check.stderr


def test_saved_config_trap_and_ollama_down(
    owui_venv: Path, fake_ollama: FakeOllamaProcess, variants: dict[str, str], tmp_path: Path
) -> None:
    """First start saves OLLAMA_BASE_URL; a restart with a new one is ignored (open-webui.md
    §1.2) and `check --ollama-url` says so. With ENABLE_PERSISTENT_CONFIG=False the new URL
    wins — here a dead one, which `check` reports as Ollama not running."""
    dead = f"http://127.0.0.1:{free_port()}"
    data = tmp_path / "owui"
    with open_webui(owui_venv, data, OLLAMA_BASE_URL=fake_ollama.url, WEBUI_AUTH="False"):
        pass
    with open_webui(owui_venv, data, OLLAMA_BASE_URL=dead, WEBUI_AUTH="False") as server:
        args = ("webui", "check", "--url", server.url, "--host", fake_ollama.url, "--no-chat")
        rc, report, _ = cli_json(*args, "--ollama-url", dead)
        failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
        assert rc == 1 and list(failed) == ["ollama-base-url"]
        assert fake_ollama.url in failed["ollama-base-url"]["detail"]
        assert "ENABLE_PERSISTENT_CONFIG=False" in failed["ollama-base-url"]["hint"]
    env = {"OLLAMA_BASE_URL": dead, "WEBUI_AUTH": "False", "ENABLE_PERSISTENT_CONFIG": "False"}
    with open_webui(owui_venv, data, **env) as server:
        rc, report, _ = cli_json("webui", "check", "--url", server.url, "--host", dead)
        failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
        assert rc == 1 and list(failed) == ["ollama-connection"]
        assert "ollama serve" in failed["ollama-connection"]["hint"]


def _token(url: str, email: str = "", password: str = "") -> str:
    response = httpx.post(
        f"{url}/api/v1/auths/signin", json={"email": email, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["token"])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
