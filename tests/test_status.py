"""`qwenkit status`: the report gathered from the fake server, the pitfall rules, the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from qwenkit.cli.status import render
from qwenkit.client import Client
from qwenkit.hardware import LoadedModel
from qwenkit.setup import SetupOptions, run_setup
from qwenkit.setup.status import (
    StatusReport,
    VariantState,
    gather_status,
    pitfalls,
    variant_names,
)
from tests.fake_ollama import FakeOllama
from tests.test_setup import gpu_box

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake():
    with FakeOllama(version="0.20.7") as server:
        server.add_library()
        yield server


def set_up(fake: FakeOllama, out: Path) -> None:
    options = SetupOptions(host=fake.url, out=out)
    with Client(fake.url) as client:
        for _ in run_setup(options, client=client, profile=gpu_box()):
            pass


def gather(fake: FakeOllama, out: Path, containers=None) -> StatusReport:
    with Client(fake.url) as client:
        return gather_status(client, modelfiles_dir=out, docker_containers=lambda: containers)


def test_after_setup_everything_matches(fake, tmp_path):
    set_up(fake, tmp_path)
    report = gather(fake, tmp_path)
    assert report.reachable and report.version == "0.20.7"
    assert [v.name for v in report.variants] == ["qwenkit-agent", "qwenkit-chat", "qwenkit-json"]
    assert all(v.matches and v.num_ctx == 32768 for v in report.variants)
    assert [m.name for m in report.loaded]  # verification loaded the chat variant
    assert report.failures == [] and report.ok


def test_drift_from_the_modelfile_is_reported(fake, tmp_path):
    set_up(fake, tmp_path)
    fake.models["qwenkit-chat"].parameters["top_k"] = 40
    report = gather(fake, tmp_path)
    chat = next(v for v in report.variants if v.name == "qwenkit-chat")
    assert chat.matches is False and chat.differences == ["top_k: expected 20, got 40"]
    assert any("no longer matches" in p.detail for p in report.failures)
    assert not report.ok


def test_an_edited_modelfile_points_to_the_way_to_apply_it(fake, tmp_path):
    set_up(fake, tmp_path)
    path = tmp_path / "qwenkit-chat.Modelfile"
    path.write_text(path.read_text().replace("temperature 0.7", "temperature 0.3"))
    report = gather(fake, tmp_path)
    chat = next(v for v in report.variants if v.name == "qwenkit-chat")
    assert chat.matches is False and chat.edited
    problem = next(p for p in report.failures if p.model == "qwenkit-chat" and p.name == "config")
    assert f"ollama create qwenkit-chat -f {path}" in problem.hint
    assert "qwenkit setup" in problem.hint and "rerun" not in problem.hint


def test_a_utf16_modelfile_is_read_as_ollama_reads_it(fake, tmp_path):
    set_up(fake, tmp_path)
    path = tmp_path / "qwenkit-json.Modelfile"
    path.write_bytes(path.read_text().encode("utf-16"))  # with a BOM, as Notepad saves it
    report = gather(fake, tmp_path)
    json_variant = next(v for v in report.variants if v.name == "qwenkit-json")
    assert json_variant.matches is True and json_variant.modelfile_error is None


def test_a_modelfile_with_a_syntax_error_is_reported_with_its_line(fake, tmp_path):
    set_up(fake, tmp_path)
    path = tmp_path / "qwenkit-agent.Modelfile"
    path.write_text(path.read_text() + "PARAMETR top_k 5\n")
    report = gather(fake, tmp_path)
    agent = next(v for v in report.variants if v.name == "qwenkit-agent")
    assert agent.matches is None and "(line" in (agent.modelfile_error or "")
    problem = next(p for p in report.failures if str(path) in p.detail)
    assert "line" in problem.detail and "fix that line" in problem.hint
    assert not report.ok


def test_missing_num_ctx_and_no_modelfile(fake, tmp_path):
    fake.add_local_model("qwenkit-chat", parameters={"temperature": 0.7})
    report = gather(fake, tmp_path / "nowhere")
    (chat,) = report.variants
    assert chat.num_ctx is None and chat.matches is None
    assert any("no num_ctx" in p.detail and "4096" in p.detail for p in report.failures)


def test_unreachable_server(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}") as client:
        report = gather_status(client, docker_containers=lambda: None)
    assert not report.reachable and "Failed to connect to Ollama" in report.error
    assert not report.ok


def test_rules_clamp_and_offload():
    report = StatusReport(
        host="http://127.0.0.1:11434",
        reachable=True,
        version="0.20.7",
        variants=[VariantState("qwenkit-chat", True, 65536)],
        loaded=[LoadedModel("qwenkit-chat:latest", 10 * 2**30, 6 * 2**30, 32768)],
    )
    found = pitfalls(report)
    messages = " | ".join(p.detail for p in found)
    assert "runs with 32768 tokens of context, not its num_ctx 65536" in messages
    assert "only 60% in VRAM" in messages
    assert found[-1].status == "note"  # the version note comes after the problems


def test_rule_open_webui_in_docker_with_loopback_ollama():
    report = StatusReport(host="http://127.0.0.1:11434", reachable=True, version="0.12.0")
    report.variants = [VariantState("qwenkit-chat", True, 8192)]
    found = pitfalls(report, containers=["ghcr.io/open-webui/open-webui:main open-webui"])
    assert any("Open WebUI runs in Docker" in p.detail for p in found)
    assert not any("Docker" in p.detail for p in pitfalls(report, containers=["redis x"]))
    remote = StatusReport(host="http://gpu-box:11434", reachable=True, version="0.12.0")
    remote.variants = report.variants
    assert not any("Docker" in p.detail for p in pitfalls(remote, containers=["open-webui"]))


def test_docker_hint_prefers_the_bridge_and_warns_about_0000():
    report = StatusReport(host="http://127.0.0.1:11434", reachable=True, version="0.12.0")
    report.variants = [VariantState("qwenkit-chat", True, 8192)]
    found = pitfalls(report, containers=["ghcr.io/open-webui/open-webui:main open-webui"])
    hint = next(p.hint for p in found if "Open WebUI runs in Docker" in p.detail)
    assert "OLLAMA_HOST=172.17.0.1" in hint
    assert "0.0.0.0" not in hint or "unauthenticated" in hint


def test_no_variants_is_a_problem():
    report = StatusReport(host="http://127.0.0.1:11434", reachable=True, version="0.12.0")
    assert [p.detail for p in pitfalls(report)] == ["no qwenkit-* variants on this server"]


def test_variant_names():
    names = ["qwenkit-chat:latest", "qwenkitx:latest", "mine-chat:latest", "qwenkit-long"]
    assert variant_names(names, "qwenkit") == ["qwenkit-chat", "qwenkit-long"]
    assert variant_names(names, "mine") == ["mine-chat"]


def status_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "qwenkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_status_and_doctor(fake, tmp_path):
    set_up(fake, tmp_path / "modelfiles")
    ok = status_cli("status", "--host", fake.url, "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    data = json.loads(ok.stdout)
    assert data["ok"] and len(data["variants"]) == 3
    fake.models["qwenkit-agent"].system = "changed"
    bad = status_cli("doctor", "--host", fake.url, cwd=tmp_path)
    assert bad.returncode == 1
    assert "qwenkit-agent" in bad.stdout and "DIFFERS" in bad.stdout
    assert "system prompt differs" in bad.stdout


def test_cli_status_unreachable_exits_3(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = status_cli("status", "--host", f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 3
    assert "Failed to connect to Ollama" in result.stdout
    assert f"nothing answered at http://127.0.0.1:{port}" in result.stdout


def test_cli_status_with_an_unreachable_webui(fake, tmp_path):
    set_up(fake, tmp_path / "modelfiles")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = status_cli(
        "status", "--host", fake.url, "--webui", f"http://127.0.0.1:{port}", "--json", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["webui"]["ok"] is False and not data["ok"]


def test_one_runner_for_the_variants_of_one_gguf_names_them_all(fake, tmp_path):
    """Ollama 0.32 lists the runner of chat, json and agent (one GGUF) once, under the name
    that loaded it (the fake does as the real server, tests/fixtures/ollama/ps_shared.json)."""
    set_up(fake, tmp_path)
    report = gather(fake, tmp_path)
    (runner,) = report.loaded
    assert runner.name == "qwenkit-chat:latest"
    assert report.also_answers(runner) == ["qwenkit-agent", "qwenkit-json"]
    assert "also answers qwenkit-agent, qwenkit-json (same GGUF)" in "\n".join(render(report))


def test_a_runner_loaded_before_its_model_was_recreated_is_not_called_clamped():
    """Re-created with num_ctx 65536, the model's old runner (8192) stays listed under the
    name with the old digest until the next request reloads it: not a clamp."""
    report = StatusReport(
        host="http://127.0.0.1:11434",
        reachable=True,
        version="0.32.15",
        variants=[VariantState("qwenkit-chat", True, 65536, digest="new")],
        loaded=[LoadedModel("qwenkit-chat:latest", 2**30, 0, 8192, digest="old")],
    )
    report.checks = pitfalls(report)
    assert not any("clamped" in p.detail for p in report.checks) and report.ok
    assert any("before it was re-created" in p.detail for p in report.checks)
