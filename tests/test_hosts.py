"""Several Ollama hosts: one context for all, a setup per host, status and compose for the list."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from qwenkit.cli import cli
from qwenkit.hardware import GPU, HardwareProfile
from qwenkit.setup import SetupOptions, Summary
from qwenkit.setup.hosts import plan_hosts, resolve_hosts, run_hosts
from qwenkit.webui.hosts import disagreements, hosts_disagree
from tests.fake_ollama import FakeOllama
from tests.test_cli_setup import events, of_kind, qwenkit

GiB = 1 << 30
VARIANTS = ("qwenkit-chat", "qwenkit-json", "qwenkit-agent")
BIG = HardwareProfile(gpus=[GPU("nvidia", "NVIDIA GeForce RTX 4090", 24 * GiB, 23 * GiB)])
SMALL = HardwareProfile(gpus=[GPU("nvidia", "NVIDIA GeForce RTX 4060", 8 * GiB, 7 * GiB)])


def test_smallest_planned_context_wins_and_quants_stay_per_host():
    alone = plan_hosts({"http://big:11434": BIG}, ctx=131072)[0][0].plan
    plans, notes = plan_hosts({"http://big:11434": BIG, "http://small:11434": SMALL}, ctx=131072)
    big, small = plans
    assert big.plan.num_ctx == small.plan.num_ctx < alone.num_ctx
    assert any("smallest planned context wins" in n and str(alone.num_ctx) in n for n in notes)
    assert big.plan.quantization != small.plan.quantization  # each its own hardware
    assert any("different quantizations" in n for n in notes)


def test_same_hardware_needs_no_note():
    plans, notes = plan_hosts({"http://a:1": BIG, "http://b:1": BIG})
    assert notes == [] and plans[0].plan == plans[1].plan


def test_hosts_are_resolved_once_each():
    assert resolve_hosts(["a:1", "http://a:1", "b"]) == ["http://a:1", "http://b:11434"]


def test_disagreements_name_the_variant_and_hosts():
    assert disagreements({"a": {"x": 1}, "b": {"x": 1}}) == []
    (line,) = disagreements({"a": {"x": 8192}, "b": {"x": 4096}})
    assert "a 8192, b 4096" in line
    (missing,) = disagreements({"a": {"x": 1}, "b": {}})
    assert missing.startswith("x is missing on b")


def test_run_hosts_creates_identical_variants_on_each(tmp_path):
    with FakeOllama() as one, FakeOllama() as two:
        for fake in (one, two):
            fake.add_library()
        profiles = {one.url: BIG, two.url: SMALL}
        options = SetupOptions(out=tmp_path, ctx=131072)
        seen = list(run_hosts(options, [one.url, two.url], probe_host=profiles.__getitem__))
        summaries = [(h, e) for h, e in seen if isinstance(e, Summary)]
        assert [h for h, _ in summaries] == [one.url, two.url]
        assert all(not e.failed for _, e in summaries)
        ctx = {
            fake.url: {m: fake.models[m].parameters.get("num_ctx") for m in VARIANTS}
            for fake in (one, two)
        }
        tags = {fake.models["qwenkit-chat"].parent for fake in (one, two)}
    assert disagreements(ctx) == [] and None not in ctx[one.url].values()
    assert len(tags) == 2  # each host its own quantization
    files = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*.Modelfile"))
    assert len(set(files)) == 2  # one directory per host: the FROM tags differ


def test_cli_setup_and_status_over_two_hosts(tmp_path):
    with FakeOllama() as one, FakeOllama() as two:
        for fake in (one, two):
            fake.add_library()
        result = qwenkit(
            "setup", "--yes", "--json", "--host", one.url, "--host", two.url, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        evs = events(result)
        assert [e["host"] for e in of_kind(evs, "host")] == [one.url, two.url]
        assert len(of_kind(evs, "summary")) == 2
        status = qwenkit("status", "--json", "--host", one.url, "--host", two.url, cwd=tmp_path)
        data = json.loads(status.stdout)
        assert [r["host"] for r in data["hosts"]] == [one.url, two.url]
        assert data["disagreements"] == []
        two.models.remove("qwenkit-json")
        again = qwenkit("status", "--host", one.url, "--host", two.url, cwd=tmp_path)
        assert again.returncode == 1 and "qwenkit-json is missing on" in again.stdout


def test_webui_compose_lists_every_host():
    urls = ["http://10.0.0.5:11434", "http://10.0.0.6:11434"]
    args = ["webui", "compose", "--ollama-url", urls[0], "--ollama-url", urls[1]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.stdout)
    env = config["services"]["open-webui"]["environment"]
    assert env["OLLAMA_BASE_URLS"] == ";".join(urls) and "OLLAMA_BASE_URL" not in env


@pytest.mark.parametrize("bad", ["x:99999"])
def test_bad_host_is_a_clean_error(bad, tmp_path):
    result = qwenkit("setup", "--dry-run", "--host", "127.0.0.1:1", "--host", bad, cwd=tmp_path)
    assert result.returncode == 2 or result.returncode == 1
    assert "Traceback" not in result.stderr


def test_hosts_disagree_reads_every_host():
    with FakeOllama() as one, FakeOllama() as two:
        one.add_local_model("qwenkit-chat", parameters={"num_ctx": 32768})
        two.add_local_model("qwenkit-chat", parameters={"num_ctx": 16384})
        (line,) = hosts_disagree([one.url, two.url], ["qwenkit-chat:latest"])
        assert "num_ctx differs" in line and "32768" in line and "16384" in line
        two.add_local_model("qwenkit-chat", parameters={"num_ctx": 32768})
        assert hosts_disagree([one.url, two.url], ["qwenkit-chat:latest"]) == []
    lines = hosts_disagree(["http://127.0.0.1:9"], ["qwenkit-chat:latest"])
    assert lines and "did not answer" in lines[0]
