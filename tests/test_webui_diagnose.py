"""Each classic Open WebUI ↔ Ollama failure, diagnosed from facts alone (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qwenkit.webui.diagnose import (
    Check,
    ModelFacts,
    WebUIFacts,
    WebUIReport,
    check_context,
    diagnose,
)

DOCKER_URL = "http://host.docker.internal:11434"


def healthy(**changes: object) -> WebUIFacts:
    """A working pairing; each test breaks one thing."""
    chat = ModelFacts("chat", "qwenkit-chat:latest", True, 32768, True, 32768, chat_status=200)
    base = WebUIFacts(
        url="http://127.0.0.1:3000",
        healthy=True,
        version="0.12.4",
        ollama_status=200,
        base_urls=(DOCKER_URL,),
        ollama_here=True,
        listen_addresses=("172.17.0.1",),
        models_listed=("qwenkit-chat:latest",),
        models=(chat,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def failing(facts: WebUIFacts) -> list[Check]:
    return [c for c in diagnose(facts) if c.failed]


def test_all_good() -> None:
    checks = diagnose(healthy())
    assert all(c.status == "pass" for c in checks), checks
    assert [(c.name, c.model) for c in checks] == [
        ("open-webui", None),
        ("ollama-connection", None),
        ("models", None),
        ("listed", "qwenkit-chat:latest"),
        ("num_ctx", "qwenkit-chat:latest"),
        ("chat", "qwenkit-chat:latest"),
    ]


def test_webui_down_stops_there() -> None:
    checks = diagnose(healthy(healthy=False))
    assert [(c.name, c.status) for c in checks] == [("open-webui", "fail")]
    assert "compose" in checks[0].hint


def test_auth_failure_is_reported_with_fix() -> None:
    [up, auth] = diagnose(healthy(auth_error="Open WebUI refused"))
    assert up.status == "pass" and auth.failed and "--token" in auth.hint


def test_ollama_bound_to_loopback_while_webui_in_docker() -> None:
    facts = healthy(
        ollama_status=500,
        ollama_detail="WebUI could not connect to Ollama",
        listen_addresses=("127.0.0.1",),
        bridge_address="172.17.0.1",
    )
    [problem] = failing(facts)
    assert problem.name == "ollama-connection"
    assert "listens only on 127.0.0.1" in problem.detail
    assert "OLLAMA_HOST=172.17.0.1" in problem.hint
    assert "exposes" in problem.hint  # 0.0.0.0 is named with its risk


def test_host_docker_internal_not_resolving() -> None:
    facts = healthy(ollama_status=500, listen_addresses=("0.0.0.0",))
    [problem] = failing(facts)
    assert "host-gateway" in problem.hint
    assert "--add-host=host.docker.internal:host-gateway" in problem.hint


def test_host_docker_internal_with_unknown_bind_blames_resolution() -> None:
    [problem] = failing(healthy(ollama_status=500, listen_addresses=None))
    assert "host-gateway" in problem.hint


def test_loopback_base_url_inside_container() -> None:
    facts = healthy(ollama_status=500, base_urls=("http://127.0.0.1:11434",), ollama_here=True)
    [problem] = failing(facts)
    assert "container itself" in problem.detail
    assert "host.docker.internal" in problem.hint


def test_loopback_base_url_with_ollama_down_says_start_ollama() -> None:
    facts = healthy(ollama_status=500, base_urls=("http://localhost:11434",), ollama_here=False)
    [problem] = failing(facts)
    assert "ollama serve" in problem.hint


def test_saved_base_url_differs_from_expected() -> None:
    facts = healthy(
        base_urls=("http://127.0.0.1:11999",),
        expected_base_url=DOCKER_URL + "/",
        ollama_status=200,
    )
    [problem] = failing(facts)
    assert problem.name == "ollama-base-url"
    assert "ENABLE_PERSISTENT_CONFIG=False" in problem.hint
    assert "/ollama/config/update" in problem.hint


def test_saved_base_url_matching_expected_passes() -> None:
    checks = diagnose(healthy(expected_base_url=DOCKER_URL))
    assert any(c.name == "ollama-base-url" and c.status == "pass" for c in checks)


def test_no_models_listed() -> None:
    model = ModelFacts("chat", "qwenkit-chat:latest", in_ollama=False)
    problems = failing(healthy(models_listed=(), models=(model,)))
    assert [p.name for p in problems] == ["models", "listed"]
    assert all("qwenkit setup" in p.hint for p in problems)


def test_variant_in_ollama_but_not_listed_suggests_sync() -> None:
    model = ModelFacts("json", "qwenkit-json:latest", True, 32768, listed=False)
    [problem] = failing(healthy(models=(model,)))
    assert (problem.name, problem.model) == ("listed", "qwenkit-json:latest")
    assert "webui sync" in problem.hint


def test_missing_num_ctx_cuts_chats() -> None:
    model = ModelFacts("chat", "qwenkit-chat:latest", True, None, True, None)
    problem = check_context(model)
    assert problem is not None and problem.failed
    assert "default context" in problem.detail and "qwenkit setup" in problem.hint


def test_preset_num_ctx_differs_from_modelfile() -> None:
    model = ModelFacts("chat", "qwenkit-chat:latest", True, 32768, True, 2048)
    problem = check_context(model)
    assert problem is not None and problem.failed
    assert "2048" in problem.detail and "32768" in problem.detail and "reloads" in problem.detail
    assert "webui sync" in problem.hint


@pytest.mark.parametrize("preset", [None, 16384])
def test_matching_or_absent_preset_is_fine(preset: int | None) -> None:
    model = ModelFacts("chat", "qwenkit-chat:latest", True, 16384, True, preset)
    problem = check_context(model)
    assert problem is not None and problem.status == "pass"


def test_unknown_ollama_side_makes_no_context_claim() -> None:
    model = ModelFacts("chat", "qwenkit-chat:latest", None, None, True, 8192)
    assert check_context(model) is None


def test_chat_failure_is_reported() -> None:
    model = ModelFacts(
        "chat", "qwenkit-chat:latest", True, 32768, True, None, 400, "Model not found"
    )
    [problem] = failing(healthy(models=(model,)))
    assert problem.name == "chat" and "Model not found" in problem.detail


def test_connection_failure_skips_model_checks() -> None:
    checks = diagnose(healthy(ollama_status=500))
    assert [c.name for c in checks] == ["open-webui", "ollama-connection"]


def test_report_ok_and_dict() -> None:
    report = WebUIReport("http://x", "0.12.4", diagnose(healthy(ollama_status=500)))
    assert not report.ok
    assert [c.name for c in report.failures] == ["ollama-connection"]
    data = report.to_dict()
    assert data["ok"] is False and data["checks"][1]["hint"]
