"""Compose file, docker run lines and the no-Docker route for Open WebUI."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from qwenkit._common.yamlfile import dump_yaml
from qwenkit.webui.compose import (
    HOST_GATEWAY,
    ComposeSpec,
    compose_config,
    compose_yaml,
    docker_run_commands,
    native_commands,
    security_note,
)

PLAN_ENV = {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"}


def load(spec: ComposeSpec) -> dict[str, Any]:
    data = yaml.safe_load(compose_yaml(spec))
    assert isinstance(data, dict)
    return data


def test_host_ollama_wiring() -> None:
    data = load(ComposeSpec(port=3123, default_model="qwenkit-chat:latest"))
    webui = data["services"]["open-webui"]
    assert set(data["services"]) == {"open-webui"}
    assert webui["environment"]["OLLAMA_BASE_URL"] == "http://host.docker.internal:11434"
    assert webui["environment"]["DEFAULT_MODELS"] == "qwenkit-chat:latest"
    assert webui["extra_hosts"] == [HOST_GATEWAY]
    assert webui["ports"] == ["3123:8080"]
    assert webui["volumes"] == ["open-webui:/app/backend/data"]
    assert "open-webui" in data["volumes"]
    assert "ENABLE_PERSISTENT_CONFIG" not in webui["environment"]


def test_compose_text_round_trips_to_the_same_data() -> None:
    spec = ComposeSpec(with_ollama=True, ollama_env=PLAN_ENV)
    assert yaml.safe_load(compose_yaml(spec)) == compose_config(spec)


def test_with_ollama_adds_gpu_service_and_points_webui_at_it() -> None:
    data = load(ComposeSpec(with_ollama=True, ollama_env=PLAN_ENV))
    ollama = data["services"]["ollama"]
    webui = data["services"]["open-webui"]
    assert ollama["environment"] == PLAN_ENV
    devices = ollama["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert ollama["ports"] == ["127.0.0.1:11434:11434"]  # never the whole network
    assert webui["environment"]["OLLAMA_BASE_URL"] == "http://ollama:11434"
    assert webui["depends_on"] == ["ollama"]
    assert "extra_hosts" not in webui
    assert set(data["volumes"]) == {"open-webui", "ollama"}


def test_env_values_stay_strings_in_yaml() -> None:
    """`1`, `False` and `q8_0` must not turn into an int, a bool or anything else."""
    env = {"OLLAMA_FLASH_ATTENTION": "1", "X": "False", "Y": "no", "Z": "a: b # c"}
    data = load(ComposeSpec(with_ollama=True, ollama_env=env, persistent_config=False))
    assert data["services"]["ollama"]["environment"] == env
    assert data["services"]["open-webui"]["environment"]["ENABLE_PERSISTENT_CONFIG"] == "False"


def test_header_explains_saved_config_trap() -> None:
    text = compose_yaml(ComposeSpec())
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("FIRST start only" in line for line in header)
    assert all(not line.startswith("services") for line in header)


def test_docker_run_matches_compose() -> None:
    spec = ComposeSpec(port=3001, default_model="qwenkit-chat:latest")
    [line] = docker_run_commands(spec)
    argv = shlex.split(line)
    assert argv[:3] == ["docker", "run", "-d"]
    assert f"--add-host={HOST_GATEWAY}" in argv
    assert "3001:8080" in argv
    env = {argv[i + 1] for i, a in enumerate(argv) if a == "-e"}
    expected = compose_config(spec)["services"]["open-webui"]["environment"]
    assert env == {f"{k}={v}" for k, v in expected.items()}
    assert argv[-1] == spec.image


def test_docker_run_with_ollama_uses_a_network() -> None:
    lines = docker_run_commands(ComposeSpec(with_ollama=True, ollama_env=PLAN_ENV))
    assert lines[0] == "docker network create qwenkit"
    ollama = shlex.split(lines[1])
    assert "--gpus=all" in ollama and "OLLAMA_KV_CACHE_TYPE=q8_0" in ollama
    assert "127.0.0.1:11434:11434" in ollama
    assert "OLLAMA_BASE_URL=http://ollama:11434" in shlex.split(lines[2])


def test_native_route_uses_loopback_and_binds_locally() -> None:
    lines = native_commands(ComposeSpec(port=8089, default_model="qwenkit-chat:latest"))
    assert "pip install open-webui" in lines
    serve = shlex.split(lines[-1])
    assert "OLLAMA_BASE_URL=http://127.0.0.1:11434" in serve
    assert "DEFAULT_MODELS=qwenkit-chat:latest" in serve
    assert serve[-5:] == ["serve", "--host", "127.0.0.1", "--port", "8089"]


def test_security_note_warns_about_0000_and_offers_bridge() -> None:
    text = " ".join(security_note("172.18.0.1"))
    assert "0.0.0.0" in text and "no authentication" in text
    assert "OLLAMA_HOST=172.18.0.1" in text


scalars = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=10), values, max_size=5))
@example({"A\n": None})  # a key ending in a newline must be quoted
def test_yaml_round_trips_any_plain_data(data: dict[str, Any]) -> None:
    assert yaml.safe_load(dump_yaml(data, ["a header"])) == data


@pytest.mark.parametrize("text", ["yes", "null", "- x", "#c", "ä\n\"'", "01"])
def test_yaml_quotes_tricky_strings(text: str) -> None:
    assert yaml.safe_load(dump_yaml({text: [text]})) == {text: [text]}


@pytest.mark.parametrize(
    ("ollama_host", "expected"),
    [
        ("0.0.0.0:11500", "http://host.docker.internal:11500"),  # this host, another port
        ("127.0.0.1", "http://host.docker.internal:11434"),
        ("http://gpu-box:11434", "http://gpu-box:11434"),  # another machine: used as is
    ],
)
def test_compose_honours_the_port_and_host_in_ollama_host(
    monkeypatch: pytest.MonkeyPatch, ollama_host: str, expected: str
) -> None:
    from click.testing import CliRunner

    from qwenkit.cli import cli

    monkeypatch.setenv("OLLAMA_HOST", ollama_host)
    result = CliRunner().invoke(cli, ["webui", "compose", "--json"])
    assert result.exit_code == 0, result.output
    compose = json.loads(result.stdout)["compose"]
    assert f"OLLAMA_BASE_URL: {expected}" in compose
