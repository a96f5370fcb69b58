"""`qwenkit bench` against the fake with scripted token timings, on a virtual clock.

The event loop's clock only moves when every task waits, by exactly the time slept, so the
fake's pauses are the measured times: each figure is checked against the script (to 1 %),
the whole file runs in a few seconds, and nothing depends on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import json
import selectors
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

import qwenkit
from qwenkit.bench import BenchResult, Settings
from qwenkit.bench.report import biggest_gap, compare_lines, markdown, terminal_lines
from qwenkit.bench.result import result_from_dict
from qwenkit.bench.session import benchmark
from qwenkit.cli import cli
from qwenkit.cli._options import HOST_HELP
from qwenkit.errors import IncompleteAnswerError, ResponseError
from qwenkit.hardware import GPU, HardwareProfile
from tests.fake_ollama import FakeOllama

MODEL = "qwenkit-chat"
GiB = 1 << 30
RTX_3060 = HardwareProfile(
    gpus=[GPU("nvidia", "NVIDIA GeForce RTX 3060", 12 * GiB, 12 * GiB)],
    ram_total_bytes=32 * GiB, ram_available_bytes=30 * GiB, cpu_cores=8,
)  # fmt: skip
PREFILL = 0.25
DELAYS = [0.02, 0.04, 0.06, 0.08]
OUTPUT = 9  # 8 gaps: the delay cycle twice


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Instead of sleeping until the next timer, jump the clock to it."""

    now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # only a thread (asyncio.to_thread) can wake us: wait for real
            ready = super().select(10.0)
            if not ready:
                raise RuntimeError("deadlock: every task waits and no timer is set")
            return ready
        self.now += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def on_virtual_clock(job: Coroutine[Any, Any, BenchResult]) -> BenchResult:
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(job)
    finally:  # as asyncio.run: finalize the generators a failed stream left open
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def scripted(slots: int | None = None, vram: int | None = None) -> FakeOllama:
    fake = FakeOllama(
        prefill_delay=PREFILL, token_delay=DELAYS, answer_words=200, slots=slots,
        vram_bytes=vram,
    )  # fmt: skip
    fake.add_local_model(MODEL)
    return fake


def bench(fake: FakeOllama, profile: HardwareProfile = RTX_3060, **kw: Any) -> BenchResult:
    settings = Settings(MODEL, output_tokens=OUTPUT, **{"concurrency": (1, 2, 4), **kw}).check()
    job = benchmark(settings, fake.url, None, profile, fake.async_transport(), lambda _: None)
    return on_virtual_clock(job)


def close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= 0.01 * abs(expected)


@pytest.fixture(scope="module")
def parallel() -> BenchResult:
    return bench(scripted())


@pytest.fixture(scope="module")
def serial() -> BenchResult:
    return bench(scripted(slots=1))


def test_single_user_figures_are_the_scripted_ones(parallel: BenchResult) -> None:
    single = parallel.single
    assert single is not None and single.errors == 0
    gaps = [DELAYS[i % 4] for i in range(OUTPUT - 1)]
    assert close(single.ttft.p50, PREFILL) and close(single.ttft.p99, PREFILL)
    assert close(single.speed.mean, (OUTPUT - 1) / sum(gaps))  # client side
    server = [DELAYS[i % 4] for i in range(OUTPUT)]
    assert close(parallel.decode_tps, OUTPUT / sum(server))  # Ollama's eval_duration
    for q, got in ((50, single.itl.p50), (90, single.itl.p90), (99, single.itl.p99)):
        assert close(got, float(np.percentile(gaps, q)))
    prefill = parallel.to_dict()["single_user"]["prefill_tokens_per_s_server"]
    assert close(prefill, single.samples[0].prompt_tokens / PREFILL)


def test_parallel_server_serves_every_level_at_once_and_meets_the_target(
    parallel: BenchResult,
) -> None:
    per_request = PREFILL + sum(DELAYS[i % 4] for i in range(OUTPUT - 1))
    for level in parallel.levels:
        assert level.served == level.concurrency
        assert len(level.samples) == max(4, 2 * level.concurrency)
        rounds = len(level.samples) / level.concurrency
        assert close(level.span, rounds * per_request)
        assert close(level.aggregate_tps, len(level.samples) * OUTPUT / level.span)
        assert close(level.ttft.p90, PREFILL)
    assert parallel.capacity == 4
    assert parallel.queueing is None


def test_one_request_at_a_time_is_queueing_with_the_fix_and_its_cost(
    serial: BenchResult,
) -> None:
    per_request = PREFILL + sum(DELAYS[i % 4] for i in range(OUTPUT - 1))
    four = serial.levels[-1]
    assert [lv.served for lv in serial.levels] == [1, 1, 1]
    first_round = sorted(s.ttft or 0 for s in four.samples[:4])
    assert all(close(t, k * per_request + PREFILL) for k, t in enumerate(first_round))
    assert serial.capacity == 2  # at 4, the 3rd and 4th wait > 1 s for their first token
    q = serial.queueing
    assert q is not None and (q.sent, q.served, q.setting) == (4, 1, "OLLAMA_NUM_PARALLEL=4")
    ctx = serial.memory.context_length if serial.memory else None
    assert ctx is not None
    wide = qwenkit.plan(RTX_3060, target_ctx=ctx, quant="q4_K_M", parallel=4)
    one = qwenkit.plan(RTX_3060, target_ctx=ctx, quant="q4_K_M")
    assert q.extra_bytes == wide.estimate.total_bytes - one.estimate.total_bytes > 0
    assert "OLLAMA_NUM_PARALLEL=4" in biggest_gap(serial)


def test_ceiling_from_the_gpu_table_and_the_model_size(parallel: BenchResult) -> None:
    ceiling = parallel.ceiling
    assert ceiling is not None and ceiling.bandwidth_gbps == 360
    assert ceiling.weights_bytes > 4_683_073_952  # the q4_K_M layer plus template, license
    prompt = np.mean([s.prompt_tokens for s in parallel.levels[0].samples])
    assert ceiling.context_tokens == round(prompt + OUTPUT / 2)
    assert ceiling.kv_bytes_per_token == 57344
    expected = 360e9 / (ceiling.weights_bytes + 57344 * ceiling.context_tokens)
    assert close(ceiling.tokens_per_s, expected)
    assert 76 < ceiling.tokens_per_s < 77  # the RTX 3060 figure


def test_memory_against_the_plan_and_a_partial_offload_flagged() -> None:
    result = bench(scripted(vram=3 * GiB), concurrency=(1,), bandwidth_gbps=100.0)
    memory = result.memory
    assert memory is not None and memory.placement == "partial"
    plan = qwenkit.plan(RTX_3060, target_ctx=memory.context_length, quant="q4_K_M")
    assert memory.planned == plan.estimate.total_bytes
    assert "VRAM" in biggest_gap(result)
    assert result.ceiling is not None and result.ceiling.bandwidth_source == "--bandwidth"


def test_prompts_are_calibrated_to_the_asked_length(parallel: BenchResult) -> None:
    counts = [s.prompt_tokens or 0 for lv in parallel.levels for s in lv.samples]
    assert all(abs(c - 256) <= 0.05 * 256 for c in counts)
    assert len({s.prompt_words for s in parallel.levels[0].samples}) == 1


def test_every_prompt_differs_so_no_prefill_is_cached() -> None:
    fake = scripted()
    bench(fake, concurrency=(1,))
    sent = [r.json["messages"][0]["content"] for r in fake.requests_to("/api/chat")]
    assert len(sent) == len(set(sent)) >= 6


def test_json_round_trip_keeps_every_sample(parallel: BenchResult) -> None:
    data = json.loads(json.dumps(parallel.to_dict()))
    again = result_from_dict(data)
    assert [len(lv.samples) for lv in again.levels] == [len(lv.samples) for lv in parallel.levels]
    assert again.capacity == parallel.capacity
    assert close(again.levels[1].itl.p90, parallel.levels[1].itl.p90 or 0)
    assert data["levels"][0]["samples"][0]["itl"] == parallel.levels[0].samples[0].itl


def test_terminal_report_fits_80_columns_and_names_every_row(serial: BenchResult) -> None:
    lines = terminal_lines(serial)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for row in ("Time to first token", "Average output speed", "Max concurrent requests",
                "Memory", "CPU use during the run"):  # fmt: skip
        assert row in text and row in markdown(serial)
    assert "OLLAMA_NUM_PARALLEL=4" in text


def test_compare_shows_the_ratio(parallel: BenchResult, serial: BenchResult) -> None:
    lines = compare_lines(parallel, serial)
    capacity = next(line for line in lines if line.startswith("capacity"))
    assert capacity.split()[-1] == "0.50x"


def test_openai_server_is_timed_on_the_client_only() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": []})
        body = json.loads(request.content)
        count = body["max_tokens"]
        assert body["stream"] is True and count in (1, OUTPUT)  # calibration asks for 1

        async def events() -> Any:
            await asyncio.sleep(PREFILL)
            for i in range(count):
                if i:
                    await asyncio.sleep(DELAYS[(i - 1) % 4])
                delta = {"choices": [{"delta": {"content": f" w{i}"}}]}
                yield b"data: " + json.dumps(delta).encode() + b"\n\n"
            usage = {"choices": [], "usage": {"prompt_tokens": 250, "completion_tokens": count}}
            yield b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n"

        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=events())

    settings = Settings("served-model", concurrency=(1,), output_tokens=OUTPUT).check()
    job = benchmark(settings, None, "http://127.0.0.1:8000", None, httpx.MockTransport(handler),
                    lambda _: None)  # fmt: skip
    result = on_virtual_clock(job)
    single = result.single
    assert result.api == "openai" and single is not None
    assert close(single.ttft.p50, PREFILL)
    assert close(single.speed.p50, (OUTPUT - 1) / sum(DELAYS[i % 4] for i in range(OUTPUT - 1)))
    assert result.decode_tps == single.speed.mean  # no server durations to prefer
    assert any("client-side" in n for n in result.notes)
    assert "client-side timings only" in "\n".join(terminal_lines(result))


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def live_fake() -> Any:
    with FakeOllama(answer_words=50) as fake:
        fake.add_local_model(MODEL)
        yield fake


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["bench", *args])


def test_cli_json_has_every_sample_and_writes_report_and_compare(
    live_fake: FakeOllama, tmp_path: Path
) -> None:
    base = ["--host", live_fake.url, "--concurrency", "1,2", "--output-tokens", "4",
            "--requests", "2", "--bandwidth", "100"]  # fmt: skip
    report = tmp_path / "run.md"
    done = invoke(*base, "--json", "--report", str(report))
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert [len(lv["samples"]) for lv in data["levels"]] == [2, 2]
    assert "| Average output speed |" in report.read_text()
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(data))
    again = invoke(*base, "--compare", str(saved))
    assert again.exit_code == 0, again.output
    assert "ratio" in again.stdout and "Max concurrent requests" in again.stdout


def test_cli_plot(live_fake: FakeOllama, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "run.png"
    done = invoke("--host", live_fake.url, "--concurrency", "1", "--output-tokens", "3",
                  "--requests", "1", "--bandwidth", "100", "--plot", str(out))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "args",
    [
        ["--concurrency", ""], ["--concurrency", "0"], ["--concurrency", "-1,2"],
        ["--concurrency", "a,b"], ["--concurrency", "99999999999999999999"],
        ["--prompt-tokens", "-5"], ["--output-tokens", "10000000000000"],
        ["--duration", "nan"], ["--duration", "-1"], ["--bandwidth", "0"],
        ["--bandwidth", "inf"], ["--requests", "0"], ["--long", "-3"],
        ["--openai", ""], ["--openai", "ftp://x"], ["--openai", "http://[::1"],
        ["--openai", "http://ünï.example:99999"], ["--openai", "localhost:8000"],
        ["--report", "/nonexistent/dir/x.md"], ["--report", "/"], ["--plot", "/tmp"],
        ["--compare", "/nonexistent.json"], ["--compare", "/tmp"],
        [""], ["   "], ["--host", "http://127.0.0.1:99999"], ["--host", "http://"],
    ],
)  # fmt: skip
def test_cli_bad_values_get_one_line_and_no_traceback(args: list[str]) -> None:
    done = invoke(*args)
    assert done.exit_code not in (0, None)
    assert "Traceback" not in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)


def test_cli_unknown_model_and_garbage_compare(live_fake: FakeOllama, tmp_path: Path) -> None:
    done = invoke("模型-ünknown", "--host", live_fake.url, "--bandwidth", "1")
    assert done.exit_code == 1 and "not found" in done.output and "hint:" in done.output
    garbage = tmp_path / "g.json"
    garbage.write_bytes(b"\xff{not json")
    done = invoke("--host", live_fake.url, "--compare", str(garbage))
    assert done.exit_code == 2 and "cannot read" in done.output  # a bad option value
    unreachable = invoke("--host", "http://127.0.0.1:9", "--bandwidth", "1")
    assert unreachable.exit_code == 3 and "Traceback" not in unreachable.output



def test_a_cpu_machine_is_never_a_partial_offload() -> None:
    """Real Ollama v0.32.15 on a CPU reports `size_vram` 146800 for a tiny model."""
    cpu = HardwareProfile(ram_total_bytes=24 * GiB, ram_available_bytes=20 * GiB, cpu_cores=2)
    result = bench(scripted(vram=1 << 20), profile=cpu, concurrency=(1,), bandwidth_gbps=8.0)
    assert result.memory is not None and result.memory.placement == "cpu"
    assert "VRAM" not in biggest_gap(result)


@pytest.mark.parametrize(
    ("fault", "cause", "words"),
    [
        ({"status": {"/api/chat": (500, "llama runner process has terminated")}}, ResponseError,
         "llama runner process has terminated (status code: 500)"),
        ({"midstream_error": "out of memory"}, ResponseError, "out of memory"),
        ({"cut_models": [MODEL]}, IncompleteAnswerError, "finished (before any text)"),
        ({"truncate_stream": True}, IncompleteAnswerError, "finished (after 1 piece of text)"),
    ],
)  # fmt: skip
def test_a_failing_first_request_stops_the_run_with_its_own_error_as_cause(
    fault: dict[str, Any], cause: type[Exception], words: str
) -> None:
    fake = scripted()
    fake.faults.update(fault)
    with pytest.raises(qwenkit.BenchError, match="first request failed") as failed:
        bench(fake)
    assert isinstance(failed.value.__cause__, cause) and words in str(failed.value)
    assert failed.value.hint and failed.value.exit_code == failed.value.__cause__.exit_code


def test_unreachable_openai_server_is_unavailable_with_the_url_hint() -> None:
    done = invoke("--openai", "http://127.0.0.1:9/v1", "--bandwidth", "1")
    assert done.exit_code == 3 and "OpenAI-compatible server" in done.output
    assert "--openai URL" in done.output and "Traceback" not in done.output


def test_host_is_the_shared_option_with_its_checks_and_help() -> None:
    help_text = " ".join(invoke("--help").output.split())
    assert " ".join(HOST_HELP.split()) in help_text
    for bad in ("http://127.0.0.1:99999", "", "ftp://x"):
        ours = CliRunner().invoke(cli, ["bench", "--host", bad])
        probe = CliRunner().invoke(cli, ["probe", "--host", bad])
        assert ours.exit_code == probe.exit_code == 2
        assert ours.output.splitlines()[-2:] == probe.output.splitlines()[-2:]
