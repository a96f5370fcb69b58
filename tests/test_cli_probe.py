"""`qwenkit probe`: the table, the JSON object, errors, and a real run on this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import qwenkit.cli.probe as probe_cli
from qwenkit.cli import cli
from qwenkit.hardware import GPU, HardwareProfile, LoadedModel

GiB = 1 << 30

PROFILE = HardwareProfile(
    gpus=[GPU("nvidia", "NVIDIA GeForce RTX 4060 Laptop GPU", 8188 << 20, 7591 << 20, "560.94")],
    ram_total_bytes=32 * GiB,
    ram_available_bytes=27 * GiB,
    disk_free_bytes=120 * GiB,
    models_dir="/home/u/.ollama/models",
    os="linux",
    arch="x86_64",
    cpu_model="AMD Ryzen 7 7840HS",
    cpu_cores=8,
    cpu_flags=["avx2", "avx512f"],
    ollama_version="0.6.2",
    loaded=[LoadedModel("qwen2.5:7b-instruct-q4_K_M", 6 * GiB, 6 * GiB, 32768)],
    notes=["rocm-smi: not found"],
)


@pytest.fixture
def fake_probe(monkeypatch):
    calls = []

    def fake(**kw):
        calls.append(kw)
        return PROFILE

    monkeypatch.setattr(probe_cli, "probe_hardware", fake)
    return calls


def test_table(fake_probe):
    result = CliRunner().invoke(cli, ["probe"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "NVIDIA GeForce RTX 4060 Laptop GPU" in out
    assert "qwen2.5:7b-instruct-q4_K_M" in out
    assert "OLLAMA_FLASH_ATTENTION=1" in out
    for section in ("Hardware", "Plan", "Why", "Notes"):
        assert section in out.splitlines()
    assert fake_probe == [{"host": None, "query_server": True}]


def test_json_has_the_issue_shape(fake_probe):
    result = CliRunner().invoke(cli, ["probe", "--json", "--ctx", "16384", "--offline"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"hardware", "plan"}
    assert data["hardware"]["gpus"][0]["memory_total_bytes"] == 8188 << 20
    assert data["hardware"]["ollama_version"] == "0.6.2"
    plan = data["plan"]
    assert plan["num_ctx"] == 16384 and plan["quantization"] == "q4_K_M"
    assert set(plan["estimate"]) >= {"weights_bytes", "kv_cache_bytes", "total_bytes"}
    assert plan["reasons"] and isinstance(plan["server_env"], dict)
    assert fake_probe[-1]["query_server"] is False


def test_forced_quant_and_parallel(fake_probe):
    result = CliRunner().invoke(cli, ["probe", "--json", "--quant", "Q3_K_M", "--parallel", "2"])
    plan = json.loads(result.output)["plan"]
    assert (plan["quantization"], plan["parallel"]) == ("q3_K_M", 2)
    assert plan["server_env"]["OLLAMA_NUM_PARALLEL"] == "2"


def test_impossible_plan_exits_4_with_a_hint(monkeypatch):
    small = HardwareProfile(ram_total_bytes=8 * GiB, ram_available_bytes=6 * GiB)
    monkeypatch.setattr(probe_cli, "probe_hardware", lambda **kw: small)
    result = CliRunner().invoke(cli, ["probe", "--quant", "fp16"])
    assert result.exit_code == 4
    assert "error: fp16 at 4096 tokens needs" in result.output
    assert "hint:" in result.output


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only")
def test_real_run_on_this_machine():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env["OLLAMA_HOST"] = "127.0.0.1:9"  # nothing listens on the discard port
    done = subprocess.run(
        [sys.executable, "-m", "qwenkit", "probe", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    mem_total_kib = int(Path("/proc/meminfo").read_text().split()[1])
    assert data["hardware"]["ram_total_bytes"] == mem_total_kib * 1024
    assert data["hardware"]["ollama_version"] is None
    if not shutil.which("nvidia-smi") and not shutil.which("rocm-smi"):
        assert data["plan"]["offload"] == "cpu"
        assert data["hardware"]["gpus"] == []


def test_setup_shows_the_plan_in_the_rows_probe_shows(capsys):
    """One renderer: `setup`'s plan event and `probe`'s report print the same plan block."""
    from qwenkit.cli._setup_view import HumanView
    from qwenkit.planner import plan
    from qwenkit.setup import Planned

    chosen = plan(PROFILE)
    HumanView().show(Planned(plan=chosen.to_dict()))
    shown = capsys.readouterr().out.splitlines()
    report = probe_cli.render(PROFILE, chosen)
    start = report.index("Plan")
    assert shown == report[start : start + len(shown)]
    assert shown[0] == "Plan" and any(line.startswith("  Tag") for line in shown)
    assert "Why" in shown and report[start + len(shown) :] == ["Notes", "  - rocm-smi: not found"]
