"""`qwenkit setup` end to end: the CLI in a subprocess against the fake Ollama server.

Each test starts a fresh fake on 127.0.0.1, runs `python -m qwenkit setup ...` in a temporary
directory and checks exit code, output and what the server saw.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[1]
TAG = "qwen2.5:7b-instruct-q4_K_M"
VARIANTS = ("qwenkit-chat", "qwenkit-json", "qwenkit-agent")


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env["PYTHONPATH"] = str(ROOT)
    env["NO_COLOR"] = "1"
    return env


def qwenkit(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qwenkit", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def events(result: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def of_kind(evs: list[dict], kind: str) -> list[dict]:
    return [e for e in evs if e["event"] == kind]


def setup_json(fake: FakeOllama, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return qwenkit("setup", "--yes", "--json", "--host", fake.url, *extra, cwd=cwd)


def paths_hit(fake: FakeOllama, since: int = 0) -> list[str]:
    return [r.path for r in fake.requests[since:]]


@pytest.fixture
def fake():
    with FakeOllama(version="0.12.11") as server:
        server.add_library()
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_first_run_pulls_creates_and_verifies(fake, tmp_path):
    result = setup_json(fake, tmp_path)
    assert result.returncode == 0, result.stderr
    evs = events(result)
    summary = evs[-1]
    assert summary["event"] == "summary"
    assert summary["models"] == list(VARIANTS)
    assert summary["plan"]["tag"] == TAG
    for path in summary["modelfiles"]:
        assert (tmp_path / path).is_file()
    assert [c["status"] for c in summary["checks"]] == ["pass"] * len(summary["checks"])
    assert {c["name"] for c in summary["checks"]} == {
        "config",
        "context",
        "offload",
        "json",
        "tools",
    }
    assert [e["action"] for e in of_kind(evs, "create")] == ["created"] * 3
    progress = of_kind(evs, "pull_progress")
    assert progress[-1]["completed"] == progress[-1]["total"] > 4_000_000_000
    for name in VARIANTS:
        assert name in fake.models
    created = [r.json for r in fake.requests_to("/api/create")]
    assert {b["model"] for b in created} == set(VARIANTS)
    assert all(b["from"] == TAG and "num_ctx" in b["parameters"] for b in created)


def test_second_run_changes_nothing_and_pulls_nothing(fake, tmp_path):
    assert setup_json(fake, tmp_path).returncode == 0
    before = {p: p.read_text() for p in (tmp_path / "modelfiles").iterdir()}
    mark = len(fake.requests)
    result = setup_json(fake, tmp_path)
    assert result.returncode == 0, result.stderr
    hit = paths_hit(fake, mark)
    assert "/api/pull" not in hit and "/api/create" not in hit
    evs = events(result)
    assert of_kind(evs, "pull_skipped")
    assert [e["result"] for e in of_kind(evs, "modelfile")] == ["unchanged"] * 3
    assert [e["action"] for e in of_kind(evs, "create")] == ["unchanged"] * 3
    assert {p: p.read_text() for p in (tmp_path / "modelfiles").iterdir()} == before


def test_dropped_pull_is_retried_and_resumes(fake, tmp_path):
    fake.faults.drop_pull_after = 2_000_000_000
    result = setup_json(fake, tmp_path)
    assert result.returncode == 0, result.stderr
    evs = events(result)
    (retry,) = of_kind(evs, "pull_retry")
    assert "connection" in retry["reason"] or "cut off" in retry["reason"]
    assert len(fake.requests_to("/api/pull")) == 2
    assert TAG in fake.models


def test_stalled_pull_times_out_and_is_retried(fake, tmp_path):
    fake.faults.stall_pull_after = 1_000_000_000
    fake.faults.stall_seconds = 3.0
    result = setup_json(fake, tmp_path, "--stall-timeout", "0.5")
    assert result.returncode == 0, result.stderr
    (retry,) = of_kind(events(result), "pull_retry")
    assert "stalled" in retry["reason"]
    assert TAG in fake.models


def test_ctrl_c_during_pull_then_rerun_resumes(tmp_path):
    with FakeOllama(version="0.12.11", pull_step_delay=0.4) as fake:
        fake.add_library()
        proc = subprocess.Popen(
            [sys.executable, "-m", "qwenkit", "setup", "--yes", "--json", "--host", fake.url],
            cwd=tmp_path,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if '"pull_progress"' in line and '"completed":0' not in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "rerun the same command" in err
        assert '"event":"interrupted"' in out
        assert not any(name in fake.models for name in VARIANTS)
        fetched = max(fake.partial.values())
        assert fetched > 0

        fake.state.config.pull_step_delay = 0.0
        result = setup_json(fake, tmp_path)
        assert result.returncode == 0, result.stderr
        first = of_kind(events(result), "pull_progress")[0]
        assert first["completed"] >= fetched  # continued, not restarted
        assert all(name in fake.models for name in VARIANTS)


def test_server_down_exits_3_and_points_at_dry_run(tmp_path):
    port = free_port()
    result = qwenkit("setup", "--yes", "--host", f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 3
    assert "Failed to connect to Ollama" in result.stderr  # the `ollama` client's words
    assert f"nothing answered at http://127.0.0.1:{port}" in result.stderr
    assert "--dry-run" in result.stderr and "ollama serve" in result.stderr
    assert not (tmp_path / "modelfiles").exists()


def test_dry_run_needs_no_server_and_writes_modelfiles(tmp_path):
    result = qwenkit("setup", "--dry-run", "--host", f"127.0.0.1:{free_port()}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "modelfiles").iterdir())
    assert written == sorted(f"{name}.Modelfile" for name in VARIANTS)
    assert "dry run" in result.stdout


def test_variants_are_comma_separated_or_repeated(tmp_path):
    port = free_port()
    commas = qwenkit(
        "setup",
        "--dry-run",
        "--host",
        f"127.0.0.1:{port}",
        "--variants",
        "chat,json",
        "-o",
        "commas",
        cwd=tmp_path,
    )
    repeated = qwenkit(
        "setup",
        "--dry-run",
        "--host",
        f"127.0.0.1:{port}",
        "--variants",
        "chat",
        "--variants",
        "json",
        "-o",
        "repeated",
        cwd=tmp_path,
    )
    assert commas.returncode == 0 and repeated.returncode == 0, commas.stderr + repeated.stderr
    for out in ("commas", "repeated"):
        written = sorted(p.name for p in (tmp_path / out).iterdir())
        assert written == ["qwenkit-chat.Modelfile", "qwenkit-json.Modelfile"]


def test_unknown_variant_is_refused_before_probing(tmp_path):
    result = qwenkit(
        "setup",
        "--dry-run",
        "--host",
        f"127.0.0.1:{free_port()}",
        "--variants",
        "chat,poetry",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "unknown variant 'poetry'" in result.stderr and "choose one of" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "modelfiles").exists()


def test_unknown_quantization_is_a_usage_error_listing_the_tags(fake, tmp_path):
    result = setup_json(fake, tmp_path, "--quant", "q9_X")
    assert result.returncode == 2
    assert "unknown quantization 'q9_X'" in result.stderr
    assert "hint: choose one of: fp16, q8_0" in result.stderr
    assert paths_hit(fake) == []  # refused while parsing: not even the server was asked


def test_tag_missing_from_the_registry_stops_with_ollamas_message(tmp_path):
    with FakeOllama(version="0.12.11") as fake:
        fake.add_registry_model("qwen2.5:7b-instruct-q8_0", 8_098_525_888)
        result = setup_json(fake, tmp_path, "--quant", "q4_K_M")
        assert result.returncode == 1
        assert "pull model manifest: file does not exist" in result.stderr
        assert fake.requests_to("/api/create") == []


def test_server_disk_too_small_stops_with_ollamas_message(fake, tmp_path):
    fake.faults.disk_free_bytes = 1 << 30
    result = setup_json(fake, tmp_path)
    assert result.returncode == 1
    assert "no space left on device" in result.stderr
    assert "free disk space" in result.stderr
    assert fake.requests_to("/api/create") == []


def test_an_edited_modelfile_is_applied_kept_and_restored_only_with_force(fake, tmp_path):
    assert setup_json(fake, tmp_path).returncode == 0
    path = tmp_path / "modelfiles" / "qwenkit-chat.Modelfile"
    edited = path.read_text().replace("temperature 0.7", "temperature 0.2")
    path.write_text(edited)
    result = setup_json(fake, tmp_path)
    assert result.returncode == 0, result.stderr
    evs = events(result)
    assert [e["result"] for e in of_kind(evs, "modelfile")] == ["kept", "unchanged", "unchanged"]
    assert any("created from it" in e["message"] for e in of_kind(evs, "warning"))
    chat = of_kind(evs, "create")[0]
    assert (chat["action"], chat["detail"]) == ("updated", "temperature 0.7 → 0.2")
    assert all(c["status"] != "fail" for c in of_kind(evs, "check"))  # verified against the edit
    assert path.read_text() == edited
    again = events(setup_json(fake, tmp_path))
    assert of_kind(again, "create")[0]["action"] == "unchanged"
    forced = setup_json(fake, tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "temperature 0.7" in path.read_text()
    assert of_kind(events(forced), "create")[0]["action"] == "updated"


def test_an_edited_modelfile_ollama_would_refuse_stops_before_the_pull(fake, tmp_path):
    out = tmp_path / "modelfiles"
    out.mkdir()
    (out / "qwenkit-json.Modelfile").write_text("FROM qwen2.5:7b-instruct-q4_K_M\nPARAMETR x 1\n")
    result = setup_json(fake, tmp_path)
    assert result.returncode == 1
    assert "qwenkit-json.Modelfile was edited and Ollama would refuse it" in result.stderr
    assert "(line 2)" in result.stderr
    assert set(paths_hit(fake)) <= {"/api/version", "/api/ps"}  # the probe only
    assert sorted(p.name for p in out.iterdir()) == ["qwenkit-json.Modelfile"]


def test_an_unwritable_modelfile_directory_stops_before_the_pull(fake, tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory should be")
    result = setup_json(fake, tmp_path, "--out", "blocker/modelfiles")
    assert result.returncode == 1
    assert "cannot write blocker/modelfiles/qwenkit-chat.Modelfile" in result.stderr
    assert "nothing was pulled or written" in result.stderr
    assert fake.requests_to("/api/pull") == []


def test_a_new_plan_replaces_untouched_modelfiles_and_updates_models(fake, tmp_path):
    assert setup_json(fake, tmp_path, "--ctx", "8192").returncode == 0
    result = setup_json(fake, tmp_path, "--ctx", "4096")
    assert result.returncode == 0, result.stderr
    evs = events(result)
    assert [e["result"] for e in of_kind(evs, "modelfile")] == ["replaced"] * 3
    actions = of_kind(evs, "create")
    assert [e["action"] for e in actions] == ["updated"] * 3
    assert "num_ctx 8192 → 4096" in actions[0]["detail"]  # a change, not an error


def test_clamp_is_caught_by_verification(tmp_path):
    with FakeOllama(version="0.12.11", trained_ctx=4096) as fake:
        fake.add_library()
        result = setup_json(fake, tmp_path, "--ctx", "8192")
        assert result.returncode == 5, result.stderr
        checks = {c["name"]: c for c in events(result)[-1]["checks"]}
        assert checks["context"]["status"] == "fail"
        assert checks["context"]["data"] == {"context_length": 4096, "planned": 8192}
        assert "verification failed" in result.stderr


def test_json_output_without_yes_is_refused_before_touching_anything(fake, tmp_path):
    result = qwenkit("setup", "--json", "--host", fake.url, cwd=tmp_path)
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert fake.requests == []


def test_without_a_terminal_the_server_is_checked_before_asking_for_yes(fake, tmp_path):
    nobody = qwenkit("setup", "--host", f"127.0.0.1:{free_port()}", cwd=tmp_path)
    assert nobody.returncode == 3, nobody.stderr  # README: exit 3 when no Ollama is reachable
    assert "Failed to connect to Ollama" in nobody.stderr
    reached = qwenkit("setup", "--host", fake.url, cwd=tmp_path)
    assert reached.returncode == 2
    assert "no terminal to confirm on; pass --yes" in reached.stderr
    assert fake.requests_to("/api/pull") == [] and fake.requests_to("/api/create") == []
    assert not (tmp_path / "modelfiles").exists()


def test_human_output_has_plan_table_and_check_marks(fake, tmp_path):
    result = qwenkit("setup", "--yes", "--host", fake.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\nPlan\n" in "\n" + result.stdout and TAG in result.stdout
    assert "✓ config" in result.stdout and "✓ tools" in result.stdout
    assert "qwenkit webui compose" in result.stdout
    assert "pull qwen2.5" in result.stderr  # the progress bar, on stderr


def test_chat_streams_and_exits(fake, tmp_path):
    fake.add_local_model("qwenkit-chat")
    fake.chat_script.extend(["Hello from the fake.", "Second answer."])
    proc = subprocess.run(
        [sys.executable, "-m", "qwenkit", "chat", "--host", fake.url],
        cwd=tmp_path,
        env=cli_env(),
        input="hi\nagain\n/exit\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Hello from the fake." in proc.stdout and "Second answer." in proc.stdout
    chats = [r.json for r in fake.requests_to("/api/chat")]
    assert [m["content"] for m in chats[1]["messages"]] == ["hi", "Hello from the fake.", "again"]


def test_the_repositorys_own_modelfiles_are_setups_own_files(fake, tmp_path):
    """Quick start in the clone: setup writes to ./modelfiles, which holds the bundled files."""
    shutil.copytree(ROOT / "modelfiles", tmp_path / "modelfiles")
    same_plan = setup_json(fake, tmp_path, "--quant", "q4_K_M", "--ctx", "32768")
    assert same_plan.returncode == 0, same_plan.stderr
    assert {e["result"] for e in of_kind(events(same_plan), "modelfile")} == {"unchanged"}
    other_plan = setup_json(fake, tmp_path, "--ctx", "8192")
    assert other_plan.returncode == 0, other_plan.stderr
    assert {e["result"] for e in of_kind(events(other_plan), "modelfile")} == {"replaced"}
    dry = qwenkit("setup", "--dry-run", "--json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr


def test_long_check_without_the_long_variant_is_a_usage_error(fake, tmp_path):
    result = setup_json(fake, tmp_path, "--long-check", "2000")
    assert result.returncode == 2
    assert "--long-check tests the long variant" in result.stderr
    assert "--variants long" in result.stderr
    assert fake.requests_to("/api/pull") == []


def test_the_confirmation_says_what_will_happen(fake, tmp_path):
    """Download size, models created or replaced (as changes), files, what stays on disk."""
    assert setup_json(fake, tmp_path, "--ctx", "8192").returncode == 0
    result = qwenkit("setup", "--json", "--yes", "--host", fake.url, "--ctx", "4096", cwd=tmp_path)
    proposal = of_kind(events(result), "proposal")[0]
    assert proposal["pull"] is None and proposal["download_bytes"] == 0
    assert {m["action"] for m in proposal["models"]} == {"updated"}
    assert "num_ctx 8192 → 4096" in proposal["models"][0]["changes"]
    assert any("model store" in s for s in proposal["stays"])
    human = qwenkit("setup", "--yes", "--host", fake.url, "--ctx", "8192", cwd=tmp_path).stdout
    assert "this run will:" in human and "download nothing" in human
    assert "replace qwenkit-chat: num_ctx 4096 → 8192" in human
    assert (
        "afterwards on disk:" in human
        and "expected" not in human.split("this run will:")[1].split("afterwards")[0]
    )
