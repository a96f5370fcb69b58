"""Open WebUI 0.12.4 wired to vLLM the way `qwenkit deploy vllm` writes it, against the fake vLLM.

The Open WebUI environment is taken from the generated compose file and key file (only the
base URL is changed: `http://vllm:8000/v1` resolves inside compose, the fake listens on
loopback), so a wrong variable name or key wiring fails here. What must hold is asserted on
the server side: a chat typed into Open WebUI reaches the OpenAI-compatible server with the
served name and the API key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qwenkit.deploy import deployment, plan_vllm, read_api_key, write_deployment
from qwenkit.hardware import HardwareProfile
from tests.e2e.harness import OpenWebUIProcess, open_webui
from tests.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.e2e

SERVED = "team-qwen"


@pytest.fixture(scope="module")
def wiring(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """Open WebUI's environment from the generated compose file, and the generated key."""
    plan = plan_vllm(HardwareProfile(), vram_bytes=24 << 30, compute=8.9, served_name=SERVED)
    deploy = deployment(plan)
    out = tmp_path_factory.mktemp("deploy")
    write_deployment(deploy, out)
    key = read_api_key(out / deploy.env_file)
    assert key
    env_file = dict(
        line.split("=", 1)
        for line in (out / deploy.env_file).read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    service = deploy.files[0].config["services"]["open-webui"]
    return {**service["environment"], "OPENAI_API_KEYS": env_file["OPENAI_API_KEYS"]}, key


@pytest.fixture(scope="module")
def fake_vllm(wiring: tuple[dict[str, str], str]) -> Iterator[FakeOpenAI]:
    with FakeOpenAI((SERVED,), api_key=wiring[1]) as fake:
        yield fake


@pytest.fixture(scope="module")
def webui(
    owui_venv: Path,
    fake_vllm: FakeOpenAI,
    wiring: tuple[dict[str, str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OpenWebUIProcess]:
    env = {**wiring[0], "OPENAI_API_BASE_URLS": fake_vllm.base_url}
    env.update(ENABLE_OPENAI_API="True", WEBUI_AUTH="False")  # the harness turns OpenAI off
    with open_webui(owui_venv, tmp_path_factory.mktemp("owui-vllm"), **env) as server:
        yield server


def _headers(url: str) -> dict[str, str]:
    token = httpx.post(f"{url}/api/v1/auths/signin", json={"email": "", "password": ""}, timeout=30)
    return {"Authorization": f"Bearer {token.json()['token']}"}


def test_served_name_is_listed_through_the_openai_connection(webui: OpenWebUIProcess) -> None:
    models = httpx.get(f"{webui.url}/api/models", headers=_headers(webui.url), timeout=30)
    entry = next(m for m in models.json()["data"] if m["id"] == SERVED)
    assert entry["owned_by"] == "openai"


def test_chat_reaches_vllm_with_the_served_name_and_key(
    webui: OpenWebUIProcess, fake_vllm: FakeOpenAI, wiring: tuple[dict[str, str], str]
) -> None:
    fake_vllm.replies.append(Reply(text="Tokyo is the capital of Japan."))
    before = len(fake_vllm.chats)
    body = {"model": SERVED, "messages": [{"role": "user", "content": "Capital of Japan?"}]}
    answer = httpx.post(
        f"{webui.url}/api/chat/completions",
        json={**body, "stream": False},
        headers=_headers(webui.url),
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Tokyo is the capital of Japan."
    sent = [r for r in fake_vllm.requests if r.path == "/v1/chat/completions"][before:]
    assert sent and sent[0].body["model"] == SERVED
    assert sent[0].body["messages"][-1]["content"] == "Capital of Japan?"
    assert sent[0].headers["authorization"] == f"Bearer {wiring[1]}"
