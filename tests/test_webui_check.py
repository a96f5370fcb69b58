"""`check_webui` fact gathering and the `qwenkit webui` commands, against respx mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from click.testing import CliRunner

from qwenkit.cli import cli
from qwenkit.webui import check_webui
from qwenkit.webui._ollama import listening_addresses, local_listen_addresses

URL = "http://webui.test"
OLLAMA = "http://ollama.test:11434"
SECRET = "sk-never-print-me"


def mock_pairing(
    router: respx.MockRouter,
    *,
    ollama_status: int = 200,
    base_urls: tuple[str, ...] = ("http://host.docker.internal:11434",),
    preset_ctx: int | None = 16384,
    ollama_up: bool = True,
    preset_name: str = "qwenkit Chat (16K)",
    proxied_ctx: int = 16384,
) -> dict[str, Any]:
    """Open WebUI + Ollama with one created variant (chat, num_ctx 16384)."""
    seen: dict[str, Any] = {}
    router.get(f"{URL}/health").mock(return_value=httpx.Response(200, json={"status": True}))
    router.get(f"{URL}/api/version").mock(
        return_value=httpx.Response(200, json={"version": "0.12.4"})
    )
    router.post(f"{URL}/api/v1/auths/signin").mock(
        return_value=httpx.Response(200, json={"token": "jwt"})
    )
    body = {"version": "0.12.11"} if ollama_status == 200 else {"detail": "WebUI could not connect"}
    router.get(f"{URL}/ollama/api/version").mock(
        return_value=httpx.Response(ollama_status, json=body)
    )
    router.get(f"{URL}/ollama/config").mock(
        return_value=httpx.Response(200, json={"OLLAMA_BASE_URLS": list(base_urls)})
    )
    router.get(f"{URL}/api/models").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "qwenkit-chat:latest"}]})
    )
    preset = {"id": "qwenkit-chat:latest", "name": preset_name, "params": {"num_ctx": preset_ctx}}
    router.get(f"{URL}/api/v1/models/model").mock(
        return_value=httpx.Response(200, json=preset) if preset_ctx else httpx.Response(404)
    )

    def chat(request: httpx.Request) -> httpx.Response:
        seen["chat"] = json.loads(request.content)
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    router.post(f"{URL}/api/chat/completions").mock(side_effect=chat)

    def show(request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content)["model"]
        if name != "qwenkit-chat:latest":
            return httpx.Response(404, json={"error": "not found"})
        return httpx.Response(200, json={"parameters": "num_ctx 16384", "system": "S"})

    if ollama_up:
        router.post(f"{OLLAMA}/api/show").mock(side_effect=show)
    else:
        router.post(f"{OLLAMA}/api/show").mock(side_effect=httpx.ConnectError("down"))
    if ollama_status == 200:  # Open WebUI's /ollama/ proxy of the same Ollama
        tags = {"models": [{"name": "qwenkit-chat:latest", "model": "qwenkit-chat:latest"}]}
        router.get(f"{URL}/ollama/api/tags").mock(return_value=httpx.Response(200, json=tags))
        proxied = {"parameters": f"num_ctx {proxied_ctx}", "system": "S"}
        router.post(f"{URL}/ollama/api/show").mock(return_value=httpx.Response(200, json=proxied))
    return seen


def test_check_reads_the_ollama_open_webui_uses_and_flags_a_preset_that_disagrees() -> None:
    """The issue's scenario: setup on another host planned 8192; a sync that read the default
    Ollama wrote "(32K)" / 32768. The check compares with what Open WebUI's Ollama runs."""
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, preset_ctx=32768, preset_name="qwenkit Chat (32K)", proxied_ctx=8192)
        report = check_webui(URL, host=OLLAMA, variants=["chat"], chat=False)
    failed = {c.name: c for c in report.failures}
    assert "preset num_ctx 32768 ≠ Modelfile num_ctx 8192" in failed["num_ctx"].detail
    assert "qwenkit webui sync" in (failed["num_ctx"].hint or "")


def test_check_flags_a_display_name_that_disagrees_with_the_model() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, preset_ctx=8192, preset_name="qwenkit Chat (32K)", proxied_ctx=8192)
        report = check_webui(URL, host=OLLAMA, variants=["chat"], chat=False)
    failed = {c.name: c for c in report.failures}
    assert "says 32K, but the model runs at num_ctx 8192" in failed["num_ctx"].detail


def test_check_all_good_and_chats_with_the_variant() -> None:
    with respx.mock(assert_all_called=False) as router:
        seen = mock_pairing(router)
        report = check_webui(URL, host=OLLAMA, variants=["chat"])
    assert report.ok, report.failures
    assert report.version == "0.12.4"
    assert seen["chat"]["model"] == "qwenkit-chat:latest" and seen["chat"]["stream"] is False
    assert {c.name for c in report.checks} >= {"ollama-connection", "num_ctx", "chat"}


def test_check_finds_preset_ctx_mismatch() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, preset_ctx=2048)
        report = check_webui(URL, host=OLLAMA, variants=["chat"], chat=False)
    [problem] = report.failures
    assert problem.name == "num_ctx" and "2048" in problem.detail


def test_check_loopback_base_url_while_ollama_answers_here() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, ollama_status=500, base_urls=("http://127.0.0.1:11434",))
        report = check_webui(URL, host=OLLAMA, variants=["chat"])
    [problem] = report.failures
    assert "container itself" in problem.detail


def test_check_webui_down_is_a_report_not_an_exception() -> None:
    with respx.mock() as router:
        router.get(f"{URL}/health").mock(side_effect=httpx.ConnectError("refused"))
        router.post(f"{OLLAMA}/api/show").mock(side_effect=httpx.ConnectError("down"))
        report = check_webui(URL, host=OLLAMA, variants=["chat"])
    assert [(c.name, c.status) for c in report.checks] == [("open-webui", "fail")]


def test_check_auth_refused() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router)
        router.post(f"{URL}/api/v1/auths/signin").mock(return_value=httpx.Response(400))
        report = check_webui(URL, host=OLLAMA, email="a@b.c", password=SECRET)
    assert [c.name for c in report.failures] == ["sign-in"]
    assert SECRET not in json.dumps(report.to_dict())


def test_listen_addresses_decoding() -> None:
    tcp = (
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:2CAA 00000000:0000 0A\n"
        "   1: 010011AC:2CAA 00000000:0000 0A\n"
        "   2: 00000000:0050 00000000:0000 0A\n"
        "   3: 0100007F:2CAA 0100007F:9C40 01\n"
    )
    assert listening_addresses(tcp, 11434) == ["127.0.0.1", "172.17.0.1"]
    tcp6 = "  sl local\n   0: 00000000000000000000000000000000:2CAA 000:0 0A\n"
    assert listening_addresses(tcp6, 11434) == ["::"]


def test_local_listen_addresses_reads_proc(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text("h\n 0: 00000000:2CAA 00000000:0000 0A\n")
    assert local_listen_addresses(11434, tmp_path) == ["0.0.0.0"]
    assert local_listen_addresses(11434, tmp_path / "missing") is None


# --- CLI -------------------------------------------------------------------------------------


def test_cli_compose_prints_yaml_on_stdout_and_notes_on_stderr() -> None:
    result = CliRunner().invoke(cli, ["webui", "compose", "--port", "3005"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    webui = data["services"]["open-webui"]
    assert webui["ports"] == ["3005:8080"]
    assert webui["environment"]["DEFAULT_MODELS"] == "qwenkit-chat:latest"
    assert "docker run" in result.stderr and "open-webui serve" in result.stderr
    assert "0.0.0.0" in result.stderr


def test_cli_compose_writes_atomically_and_refuses_to_clobber(tmp_path: Path) -> None:
    out = tmp_path / "compose.yaml"
    runner = CliRunner()
    first = runner.invoke(cli, ["webui", "compose", "-o", str(out)])
    assert first.exit_code == 0 and first.stdout.startswith("created")
    assert yaml.safe_load(out.read_text())["services"]["open-webui"]
    again = runner.invoke(cli, ["webui", "compose", "-o", str(out)])
    assert again.exit_code == 0 and again.stdout.startswith("unchanged")
    out.write_text("# my edits\n")
    refused = runner.invoke(cli, ["webui", "compose", "-o", str(out), "--port", "4000"])
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert out.read_text() == "# my edits\n"
    forced = runner.invoke(cli, ["webui", "compose", "-o", str(out), "--port", "4000", "--force"])
    assert forced.exit_code == 0 and "4000:8080" in out.read_text()


def test_cli_compose_with_ollama_json() -> None:
    result = CliRunner().invoke(cli, ["webui", "compose", "--with-ollama", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    compose = yaml.safe_load(data["compose"])
    assert "ollama" in compose["services"]
    assert compose["services"]["ollama"]["environment"]  # the plan's (or fallback) settings
    assert data["docker_run"][0] == "docker network create qwenkit"


def test_cli_sync_never_prints_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_WEBUI_TOKEN", SECRET)
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, preset_ctx=None)
        create = router.post(f"{URL}/api/v1/models/create").mock(
            return_value=httpx.Response(200, json={})
        )
        result = CliRunner().invoke(
            cli, ["webui", "sync", "--url", URL, "--host", OLLAMA, "--variants", "chat,json"]
        )
    assert result.exit_code == 0, result.output
    assert create.call_count == 1  # json is not in Ollama: no preset with a guessed num_ctx
    assert create.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"
    assert "created" in result.stdout and "num_ctx=16384" in result.stdout
    assert SECRET not in result.output
    assert "qwenkit-json:latest is not in Ollama" in result.stderr


def test_cli_check_exit_code_and_json() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, preset_ctx=2048)
        result = CliRunner().invoke(
            cli,
            ["webui", "check", "--url", URL, "--host", OLLAMA, "--variants", "chat", "--json"],
        )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [c["name"] for c in data["checks"] if c["status"] == "fail"] == ["num_ctx"]
