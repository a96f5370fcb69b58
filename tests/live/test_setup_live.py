"""`qwenkit setup` end to end against a real Ollama holding a seeded `qwen2.5:7b-instruct-q4_K_M`.

The seed is a tiny random-weight model, so what is checked is what setup controls: nothing is
pulled, the variants are created with the planned settings, `/api/show` and `/api/ps` agree
with the plan (the 32768 clamp shows up, the YaRN variant really runs at 131072), and a second
run changes nothing. Whether a random model answers a tool request is not its business.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import qwenkit
from qwenkit.setup.verify import ExpectedModel, check_loaded
from tests.e2e.harness import run_qwenkit
from tests.live.conftest import LiveModels

pytestmark = pytest.mark.live

VARIANTS = ("chat", "json", "agent")
#: checks a random-weight model cannot pass: they judge the answer, not the setup
ANSWER_CHECKS = {"json", "tools"}


def setup_events(host: str, out: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    done = run_qwenkit("setup", "--yes", "--json", "--host", host, "--out", str(out), *args)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events, f"no JSON events (rc={done.returncode}):\n{done.stderr[-3000:]}"
    return done.returncode, events


def by_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == kind]


def checks(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["name"], c["model"]): c for c in by_kind(events, "check")}


@pytest.fixture(scope="module")
def first_run(live_host: str, live_models: LiveModels, tmp_path_factory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("setup")
    for variant in VARIANTS:  # a server kept from an earlier session: start from none
        httpx.request("DELETE", f"{live_host}/api/delete", json={"model": f"qwenkit-{variant}"})
    return out, setup_events(live_host, out, "--variants", ",".join(VARIANTS), "--ctx", "8192")


def test_setup_creates_the_variants_from_the_seed_without_pulling(first_run, live_host):
    out, (rc, events) = first_run
    assert by_kind(events, "pull_skipped") and not by_kind(events, "pull_progress")
    created = {e["model"]: e["action"] for e in by_kind(events, "create")}
    assert created == {f"qwenkit-{v}": "created" for v in VARIANTS}
    for variant in VARIANTS:
        assert (out / f"qwenkit-{variant}.Modelfile").is_file()
    found = checks(events)
    for variant in VARIANTS:
        assert found[("config", f"qwenkit-{variant}")]["status"] == "pass"
    assert found[("context", "qwenkit-chat")]["status"] == "pass"
    assert found[("context", "qwenkit-chat")]["data"]["context_length"] == 8192
    failed = {name for (name, _), c in found.items() if c["status"] == "fail"}
    assert failed <= ANSWER_CHECKS, found
    assert rc == (5 if failed else 0)
    with qwenkit.Client(live_host) as client:
        shown = client.show("qwenkit-chat")
    assert "num_ctx                        8192" in (shown.parameters or "")


def test_second_setup_changes_nothing(first_run, live_host):
    out, _ = first_run
    before = {m["name"]: m["digest"] for m in httpx.get(f"{live_host}/api/tags").json()["models"]}
    _, events = setup_events(live_host, out, "--variants", ",".join(VARIANTS), "--ctx", "8192")
    assert {e["action"] for e in by_kind(events, "create")} == {"unchanged"}
    assert all(e["result"] == "unchanged" for e in by_kind(events, "modelfile")), events
    after = {m["name"]: m["digest"] for m in httpx.get(f"{live_host}/api/tags").json()["models"]}
    assert after == before


def test_the_32k_clamp_is_detected(live_host: str, live_models: LiveModels, unload):
    """A stock (32768) GGUF asked for 131072 runs at 32768; the context check says so."""
    unload.append("qwenkit-live-clamped")
    with qwenkit.Client(live_host) as client:
        client.create("qwenkit-live-clamped", from_=live_models.tiny,
                      parameters={"num_ctx": 131072})  # fmt: skip
        [_context, _offload] = check_loaded(
            client, ExpectedModel("qwenkit-live-clamped", 131072), placement="cpu"
        )
    assert _context.status == "fail" and _context.data["context_length"] == 32768
    assert "clamped num_ctx from 131072 to 32768" in (_context.hint or "")
    assert _offload.status == "pass"


def test_setup_long_variant_loads_at_131072(live_host: str, live_models: LiveModels, tmp_path):
    """Defect 2: verification loads the YaRN variant and reads /api/ps, not only the GGUF."""
    _, events = setup_events(live_host, tmp_path, "--variants", "long", "--ctx", "131072")
    created = {e["model"]: e["action"] for e in by_kind(events, "create")}
    assert created.get("qwenkit-long") in ("created", "updated", "unchanged"), events
    found = checks(events)
    assert found[("yarn", "qwenkit-long")]["status"] == "pass"
    context = found[("context", "qwenkit-long")]
    assert context["status"] == "pass", context
    assert context["data"]["context_length"] == 131072
    with qwenkit.Client(live_host) as client:
        assert client.show("qwenkit-long").model_info["qwen2.context_length"] == 131072
        client.generate("qwenkit-long", keep_alive=0)


def running_now(client: qwenkit.Client, model: str) -> Any:
    """The ps entry of `model` as it is now (ps may still list runners of older copies)."""
    digest = next(m.digest for m in client.list().models if m.name == f"{model}:latest")
    return next(m for m in client.ps().models if m.digest == digest)


def test_yarn_gguf_runs_at_131072_where_the_stock_one_is_clamped(
    live_host: str, live_models: LiveModels, unload
):
    unload += [live_models.yarn, live_models.tiny]
    with qwenkit.Client(live_host) as client:
        for model, expected in ((live_models.yarn, 131072), (live_models.tiny, 32768)):
            client.generate(model, "Hi", options={"num_ctx": 131072, "num_predict": 1})
            assert running_now(client, model).context_length == expected


def test_a_recreated_model_is_verified_not_its_stale_runner(live_host, live_models, unload):
    """Ollama 0.32 keeps the runner of a model re-created from another GGUF under the same
    name (until it needs the slot: at most 3 on a CPU), so /api/ps may list the name twice;
    verification must read the entry of the current digest, whatever ps lists first."""
    name = "qwenkit-live-recreated"
    unload.append(name)
    with qwenkit.Client(live_host) as client:
        client.create(name, from_=live_models.tiny, parameters={"num_ctx": 8192})
        client.generate(name, "Hi", options={"num_predict": 1})
        client.create(name, from_=live_models.yarn, parameters={"num_ctx": 16384})  # other GGUF
        context, _ = check_loaded(client, ExpectedModel(name, 16384), placement="cpu")
        listed = [m.context_length for m in client.ps().models if m.name == f"{name}:latest"]
    assert 16384 in listed and set(listed) <= {8192, 16384}
    assert context.status == "pass" and context.data["context_length"] == 16384


def test_a_runner_shared_by_two_variants_is_verified_for_each(live_host, live_models, unload):
    """Two models of one GGUF (qwenkit-chat and qwenkit-json) share one runner, which
    /api/ps lists only under the name that loaded it, with that model's digest; verifying
    the other one must find it there. (A num_ctx no other test uses: a runner of the same
    GGUF left by another test would otherwise serve both, listed under a third name.)"""
    first, second, ctx = "qwenkit-live-first", "qwenkit-live-second", 6144
    unload.extend([first, second])
    with qwenkit.Client(live_host) as client:
        for name in (first, second):
            client.create(name, from_=live_models.tiny, system=name, parameters={"num_ctx": ctx})
        client.generate(first, "Hi", options={"num_predict": 1})
        context, _ = check_loaded(client, ExpectedModel(second, ctx), placement="cpu")
        listed = [m.name for m in client.ps().models]
    assert f"{first}:latest" in listed and f"{second}:latest" not in listed
    assert context.status == "pass" and context.data["context_length"] == ctx
