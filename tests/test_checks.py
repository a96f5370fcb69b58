"""One `Check` for `setup`, `status` and `webui check`: one JSON shape, one way to print it,
and only a failure makes a report not ok."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from click.testing import CliRunner

from qwenkit.cli import cli
from qwenkit.cli._setup_view import HumanView
from qwenkit.cli.status import render
from qwenkit.hardware import LoadedModel
from qwenkit.setup import Check
from qwenkit.setup.status import StatusReport, VariantState, pitfalls
from qwenkit.webui import WebUIReport
from tests.fake_ollama import FakeOllama
from tests.snapshots import assert_snapshot
from tests.test_cli_setup import events, of_kind, qwenkit
from tests.test_status import set_up
from tests.test_webui_check import OLLAMA, URL, mock_pairing

STATUSES = {"pass", "fail", "skip", "note"}


@pytest.fixture
def fake():
    with FakeOllama(version="0.20.7") as server:  # >= 0.16: status adds a note on the context
        server.add_library()
        yield server


def webui_check(*extra: str) -> tuple[int, str]:
    with respx.mock(assert_all_called=False) as router:
        mock_pairing(router, preset_ctx=2048)
        args = ["webui", "check", "--url", URL, "--host", OLLAMA, "--variants", "chat", *extra]
        result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout


def test_setup_status_and_webui_check_write_the_same_check_object(fake, tmp_path):
    setup = qwenkit("setup", "--yes", "--json", "--host", fake.url, cwd=tmp_path)
    assert setup.returncode == 0, setup.stderr
    evs = events(setup)
    streamed = of_kind(evs, "check")
    summarised = evs[-1]["checks"]
    status = qwenkit("status", "--json", "--host", fake.url, cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    noted = json.loads(status.stdout)["checks"]
    _, out = webui_check("--json")
    diagnosed = json.loads(out)["checks"]

    assert streamed and noted and diagnosed
    # the setup stream only names the event; its summary repeats the checks as they are
    assert [{k: v for k, v in c.items() if k != "event"} for c in streamed] == summarised
    shapes = {tuple(c) for c in [*summarised, *noted, *diagnosed]}
    assert shapes == {tuple(Check("x", "pass", "").to_dict())}
    assert {c["status"] for c in [*summarised, *noted, *diagnosed]} <= STATUSES
    assert {c["status"] for c in noted} == {"note"}  # the default-context note of 0.20.7


def test_webui_check_json_snapshot():
    code, out = webui_check("--json")
    assert code == 1
    assert_snapshot("webui_check_stale_preset", json.loads(out))


def test_status_checks_snapshot():
    report = StatusReport(host="http://127.0.0.1:11434", reachable=True, version="0.20.7")
    report.variants = [VariantState("qwenkit-chat", True, 65536)]
    report.loaded = [LoadedModel("qwenkit-chat:latest", 10 * 2**30, 6 * 2**30, 32768)]
    report.checks = pitfalls(report, containers=["ghcr.io/open-webui/open-webui:main open-webui"])
    assert_snapshot("status_clamp_offload_docker", report.to_dict()["checks"])


def test_a_failed_webui_check_exits_1_and_prints_its_hint():
    code, out = webui_check()
    assert code == 1
    lines = out.splitlines()
    failed = lines.index(
        next(line for line in lines if line.startswith("✗ num_ctx qwenkit-chat:latest: "))
    )
    assert "preset num_ctx 2048 ≠ Modelfile num_ctx 16384" in lines[failed]
    assert lines[failed + 1] == (
        "    hint: run `qwenkit webui sync` (sets the preset to the Modelfile's value)"
    )
    assert "✓ open-webui: Open WebUI 0.12.4 at http://webui.test" in lines
    assert sum("hint:" in line for line in lines) == 1  # passing checks print no hint


def test_notes_and_skips_leave_a_report_ok():
    note = Check("server", "note", "Ollama picks a default context by VRAM")
    skip = Check("context", "skip", "not reported", model="qwenkit-chat")
    fail = Check("offload", "fail", "only 60% in VRAM", "use a smaller --quant")
    report = StatusReport(host="h", reachable=True, checks=[note, skip])
    assert report.ok and report.failures == []
    assert not StatusReport(host="h", reachable=True, checks=[note, fail]).ok
    assert WebUIReport("u", None, [skip]).ok and not WebUIReport("u", None, [skip, fail]).ok
    assert render(StatusReport(host="h", reachable=True, version="0.20.7", checks=[note]))[-1] == (
        "! server: Ollama picks a default context by VRAM"
    )


def test_status_with_only_notes_exits_0_and_shows_them(fake, tmp_path):
    set_up(fake, tmp_path / "modelfiles")
    result = qwenkit("status", "--host", fake.url, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "! server: Ollama 0.20.7 picks a default context by total VRAM" in result.stdout


def test_a_webui_that_cannot_be_checked_is_one_failed_check_in_status():
    with respx.mock(assert_all_called=False) as router:
        router.route(host="ollama.test").mock(side_effect=httpx.ConnectError("down"))
        router.get(f"{URL}/health").mock(return_value=httpx.Response(200, json={"status": True}))
        for path, body in [("/api/version", {"version": "0.12.4"}), ("/ollama/api/version", {})]:
            router.get(f"{URL}{path}").mock(return_value=httpx.Response(200, json=body))
        router.post(f"{URL}/api/v1/auths/signin").mock(
            return_value=httpx.Response(200, json={"token": "jwt"})
        )
        router.route(host="webui.test").mock(return_value=httpx.Response(500, json={}))
        args = ["status", "--host", OLLAMA, "--webui", URL]
        shown = CliRunner().invoke(cli, args)
        data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    assert shown.exit_code == 3  # Ollama unreachable: still a report, the Open WebUI part too
    assert shown.stdout.splitlines()[-2:] == [
        f"✗ Open WebUI at {URL}",
        "  ✗ open-webui: Open WebUI answered HTTP 500 on /api/models: {}",
    ]
    assert [(c["name"], c["status"]) for c in data["checks"]] == [("server", "fail")]
    assert [(c["name"], c["status"]) for c in data["webui"]["checks"]] == [("open-webui", "fail")]
    assert data["webui"]["ok"] is False and data["ok"] is False


def test_setup_prints_a_skipped_checks_hint():
    skip = Check("context", "skip", "not loaded: too big", "use a shorter --ctx", model="m")
    runner = CliRunner()
    with runner.isolation() as (out, _err, _):
        HumanView().show(skip)
    assert out.getvalue().decode().splitlines() == [
        "- context m: not loaded: too big",
        "    hint: use a shorter --ctx",
    ]
