"""`qwenkit bench --json` against a real Ollama with the tiny model: every figure is there
and plausible (what the numbers are depends on the machine, so only their relations are
checked: nothing is timed).

The model is the tiny one that never ends on its own: the standard one sometimes ends its
answer at the first token (random weights), which leaves a request without a first token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from qwenkit.bench import result_from_dict
from qwenkit.bench.report import markdown
from qwenkit.cli import cli
from tests.live.conftest import create
from tests.live.tiny_gguf import FORBID, tiny_qwen2

pytestmark = pytest.mark.live

LEVELS = (1, 2)
OUTPUT = 16
MODEL = "qwenkit-live-bench"


@pytest.fixture(scope="module")
def endless(live_host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    gguf = tiny_qwen2(tmp_path_factory.mktemp("bench") / "endless.gguf", end_boost=FORBID)
    create(live_host, MODEL, gguf)
    return MODEL


@pytest.fixture
def run_json(live_host: str, endless: str, unload: list[str]) -> dict[str, Any]:
    """One cold run, two levels, short prompts and answers: the whole CLI path."""
    unload.append(endless)
    args = [
        "bench", endless, "--host", live_host, "--concurrency", "1,2", "--cold",
        "--prompt-tokens", "64", "--output-tokens", str(OUTPUT), "--requests", "4", "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ordered(spread: dict[str, Any]) -> bool:
    """p50 <= p90 <= p99, all present and positive."""
    p50, p90, p99 = spread["p50"], spread["p90"], spread["p99"]
    return None not in (p50, p90, p99) and 0 <= p50 <= p90 <= p99 and spread["count"] > 0


def test_every_figure_is_present_and_plausible(run_json: dict[str, Any]) -> None:
    single = run_json["single_user"]
    assert single["was_loaded"] is False and single["load_s"] > 0  # --cold: a real load
    for key in ("prefill_tokens_per_s_server", "decode_tokens_per_s_server"):
        assert single[key] > 0, key
    assert single["decode_tokens_per_s_client"] > 0
    assert ordered(single["ttft_s"]) and ordered(single["itl_s"])
    assert [lv["concurrency"] for lv in run_json["levels"]] == list(LEVELS)
    for level in run_json["levels"]:
        assert level["errors"] == 0 and level["requests"] == 4
        assert level["aggregate_tokens_per_s"] > 0 and level["seconds"] > 0
        assert ordered(level["ttft_s"]) and ordered(level["itl_s"])
        assert ordered(level["tokens_per_s"])
        assert 1 <= level["served_at_once"] <= level["concurrency"]
        for sample in level["samples"]:
            plausible_sample(sample)
    ceiling = run_json["ceiling"]
    assert ceiling["tokens_per_s"] > 0 and ceiling["bandwidth_gbps"] > 0
    assert run_json["percent_of_ceiling"] > 0
    memory = run_json["memory"]
    assert memory["size"] > 0 and memory["placement"] == "cpu"  # no GPU here
    assert 0 < run_json["cpu_percent"] <= 100
    assert run_json["client_cpu_s"] > 0 and run_json["client_cpu_s_per_token"] > 0
    assert run_json["capacity"] in (0, *LEVELS)


def plausible_sample(sample: dict[str, Any]) -> None:
    """One request: client times in order, TTFT inside the total, Ollama's counts and
    durations consistent with each other."""
    total = sample["end"] - sample["start"]
    assert 0 < sample["ttft"] < total
    assert sample["start"] < sample["first_token"] <= sample["last_token"] <= sample["end"]
    assert sample["output_tokens"] == OUTPUT and sample["prompt_tokens"] > 0
    assert 2 <= sample["chunks"] <= OUTPUT and len(sample["itl"]) == sample["chunks"] - 1
    assert all(gap >= 0 for gap in sample["itl"])
    assert 0 < sample["eval_s"] < sample["total_s"] and sample["prompt_eval_s"] > 0
    assert sample["total_s"] < total  # the server's clock runs inside the client's


def test_the_run_reads_back_and_renders(run_json: dict[str, Any]) -> None:
    """The `--json` document is what `--compare` reads, and its report names every row."""
    again = result_from_dict(run_json)
    assert again.capacity == run_json["capacity"]
    assert again.decode_tps == pytest.approx(run_json["single_user"]["decode_tokens_per_s_server"])
    report = markdown(again)
    for row in ("Time to first token", "Average output speed", "Max concurrent requests"):
        assert row in report
    assert "None" not in report and "nan" not in report
