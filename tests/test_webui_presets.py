"""Preset payloads, idempotent sync and the Open WebUI client, against respx mocks."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from qwenkit.errors import WebUIError
from qwenkit.variants import VARIANTS, UnknownVariantError
from qwenkit.webui import OpenWebUI, build_spec, plan_presets, sync_presets
from qwenkit.webui._ollama import ModelSettings
from qwenkit.webui.presets import differences, merged_body

URL = "http://webui.test"
OLLAMA = "http://ollama.test:11434"
SECRET = "sk-very-secret-token"


def spec(num_ctx: int = 16384, system: str | None = "Be brief.") -> Any:
    return build_spec("chat", ollama=ModelSettings("qwenkit-chat:latest", num_ctx, system))


def test_spec_takes_num_ctx_and_system_from_ollama() -> None:
    s = spec(16384, "Be brief.")
    assert s.id == "qwenkit-chat:latest"
    assert s.num_ctx == 16384 and s.system == "Be brief."
    body = s.body()
    assert body["base_model_id"] is None  # overrides the Ollama model in place
    assert body["params"] == {"num_ctx": 16384, "system": "Be brief."}
    assert body["meta"]["description"] == VARIANTS["chat"].description
    assert "16K" in body["name"]


def test_ctx_flag_loses_to_ollama_with_a_warning() -> None:
    warnings: list[str] = []
    s = build_spec(
        "chat",
        ollama=ModelSettings("qwenkit-chat:latest", 8192, None),
        ctx=4096,
        warnings=warnings,
    )
    assert s.num_ctx == 8192
    assert len(warnings) == 1 and "4096" in warnings[0] and "8192" in warnings[0]


def test_without_ollama_only_an_explicit_ctx_is_written_never_a_guess() -> None:
    spec = build_spec("json", ctx=12288)
    assert spec is not None and spec.num_ctx == 12288
    assert spec.system == VARIANTS["json"].build("q4_K_M", 12288).system
    assert build_spec("json") is None


def test_model_without_num_ctx_is_warned_about_and_gets_no_guessed_preset() -> None:
    warnings: list[str] = []
    assert build_spec("chat", ollama=ModelSettings("m", None, None), warnings=warnings) is None
    assert warnings and "no num_ctx" in warnings[0] and "--ctx" in warnings[0]


def test_differences_ignore_user_extras_but_catch_ours() -> None:
    s = spec()
    stored = {**s.body(), "params": {**s.body()["params"], "temperature": 0.1}, "user_id": "u"}
    stored["meta"] = {**stored["meta"], "profile_image_url": "/x.png"}
    assert differences(stored, s) == []
    stored["params"]["num_ctx"] = 2048
    stored["name"] = "renamed"
    assert sorted(differences(stored, s)) == ["name", "params.num_ctx"]


def test_merged_body_keeps_user_params() -> None:
    s = spec()
    existing = {"params": {"num_ctx": 2048, "temperature": 0.1, "system": "old"}, "meta": {"x": 1}}
    body = merged_body(existing, s)
    assert body["params"] == {"num_ctx": 16384, "temperature": 0.1, "system": "Be brief."}
    assert body["meta"] == {"x": 1, "description": s.description}


def _preset_store(router: respx.MockRouter) -> dict[str, dict[str, Any]]:
    """A tiny in-memory Open WebUI preset API with 0.12.4's status codes."""
    store: dict[str, dict[str, Any]] = {}

    def read(request: httpx.Request) -> httpx.Response:
        found = store.get(request.url.params["id"])
        return httpx.Response(200, json=found) if found else httpx.Response(404, json={})

    def create(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["id"] in store:
            return httpx.Response(401, json={"detail": "model id is already registered"})
        store[body["id"]] = body
        return httpx.Response(200, json=body)

    def update(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.url.params["id"] == body["id"]  # both API styles in one call
        if body["id"] not in store:
            return httpx.Response(401, json={"detail": "not found"})
        store[body["id"]] = body
        return httpx.Response(200, json=body)

    router.get(f"{URL}/api/v1/models/model").mock(side_effect=read)
    router.post(f"{URL}/api/v1/models/create").mock(side_effect=create)
    router.post(f"{URL}/api/v1/models/model/update").mock(side_effect=update)
    router.get(f"{URL}/api/models").mock(return_value=httpx.Response(200, json={"data": []}))
    return store


def test_sync_creates_then_is_idempotent_then_updates() -> None:
    specs = [spec(), build_spec("json", ollama=ModelSettings("qwenkit-json:latest", 16384, None))]
    with respx.mock(assert_all_called=False) as router:
        store = _preset_store(router)
        refresh = router.routes[-1]
        with OpenWebUI(URL, token=SECRET) as client:
            first = sync_presets(client, specs)
            assert first.created == ["qwenkit-chat:latest", "qwenkit-json:latest"]
            assert refresh.call_count == 1
            second = sync_presets(client, specs)
            assert second.unchanged == first.created and not second.changed
            assert refresh.call_count == 1  # nothing changed, no refresh
            store["qwenkit-chat:latest"]["params"]["num_ctx"] = 2048
            third = sync_presets(client, specs)
            assert third.updated == ["qwenkit-chat:latest"]
            assert store["qwenkit-chat:latest"]["params"]["num_ctx"] == 16384
            assert refresh.call_count == 2
        sent = [c.request for c in router.calls]
        assert all(r.headers["Authorization"] == f"Bearer {SECRET}" for r in sent)
        creates = [r for r in sent if r.url.path.endswith("/create")]
        assert len(creates) == 2  # never a create on an existing id


def test_refused_request_raises_webui_error_without_token() -> None:
    with respx.mock() as router:
        router.get(f"{URL}/api/v1/models/model").mock(
            return_value=httpx.Response(403, json={"detail": "no access"})
        )
        with OpenWebUI(URL, token=SECRET) as client, pytest.raises(WebUIError) as info:
            client.get_preset("x")
    assert "403" in str(info.value) and "--token" in (info.value.hint or "")
    assert SECRET not in str(info.value) and SECRET not in repr(client)


def test_unreachable_webui_is_a_webui_error() -> None:
    with respx.mock() as router:
        router.get(f"{URL}/health").mock(side_effect=httpx.ConnectError("refused"))
        with OpenWebUI(URL, token=SECRET) as client, pytest.raises(WebUIError) as info:
            client.health()
    assert "cannot reach Open WebUI" in str(info.value) and SECRET not in str(info.value)


def test_authenticate_prefers_token_then_env_then_signin(monkeypatch: pytest.MonkeyPatch) -> None:
    with respx.mock() as router:
        signin = router.post(f"{URL}/api/v1/auths/signin").mock(
            return_value=httpx.Response(200, json={"token": "jwt-1"})
        )
        with OpenWebUI(URL) as client:
            client.authenticate(email="a@b.c", password="pw")
            assert json.loads(signin.calls.last.request.content) == {
                "email": "a@b.c",
                "password": "pw",
            }
            monkeypatch.setenv("OPEN_WEBUI_TOKEN", "env-token")
            client.authenticate()
            assert signin.call_count == 1
            assert "token=set" in repr(client)


def test_failed_signin_hint() -> None:
    with respx.mock() as router:
        router.post(f"{URL}/api/v1/auths/signin").mock(
            return_value=httpx.Response(400, json={"detail": "wrong"})
        )
        with OpenWebUI(URL) as client, pytest.raises(WebUIError) as info:
            client.authenticate(email="a@b.c", password="hunter2")
    assert "hunter2" not in str(info.value) and "--email" in (info.value.hint or "")


def _show(num_ctx: int | None) -> dict[str, Any]:
    params = 'stop                           "<|im_end|>"'
    if num_ctx:
        params = f"num_ctx                        {num_ctx}\n{params}"
    return {"parameters": params, "system": "From Ollama.", "template": "{{ .Prompt }}"}


def test_plan_presets_reads_ollama_and_includes_created_extras() -> None:
    def show(request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content)["model"]
        if name == "qwenkit-agent:latest":
            return httpx.Response(404, json={"error": f"model '{name}' not found"})
        return httpx.Response(200, json=_show(24576))

    with respx.mock() as router:
        router.post(f"{OLLAMA}/api/show").mock(side_effect=show)
        specs, warnings = plan_presets(None, host=OLLAMA)
    by_variant = {s.variant: s for s in specs}
    assert list(by_variant) == ["chat", "json", "long"]  # long exists, so it joins
    assert by_variant["chat"].num_ctx == 24576 and by_variant["chat"].system == "From Ollama."
    assert any("qwenkit-agent:latest is not in Ollama" in w for w in warnings)  # and skipped


def test_plan_presets_with_ollama_down_warns_and_uses_ctx() -> None:
    with respx.mock() as router:
        router.post(f"{OLLAMA}/api/show").mock(side_effect=httpx.ConnectError("down"))
        specs, warnings = plan_presets(["chat"], host=OLLAMA, ctx=8192)
    assert [s.num_ctx for s in specs] == [8192]
    assert warnings and "did not answer" in warnings[0]


def test_plan_presets_with_no_ollama_and_no_ctx_stops_before_writing() -> None:
    with respx.mock() as router:
        router.post(f"{OLLAMA}/api/show").mock(side_effect=httpx.ConnectError("down"))
        with pytest.raises(WebUIError, match="cannot read the models' num_ctx") as info:
            plan_presets(["chat"], host=OLLAMA)
    assert "--host" in (info.value.hint or "") and "--ctx" in (info.value.hint or "")
    with pytest.raises(WebUIError, match="give --host"):
        plan_presets(["chat"], host=None)


def _proxied_ollama(router: respx.MockRouter, num_ctx: int, *, up: bool = True) -> None:
    """Open WebUI's /ollama/ proxy in front of an Ollama holding qwenkit-chat (or down)."""
    base = f"{URL}/ollama"
    if not up:
        router.get(f"{base}/api/version").mock(
            return_value=httpx.Response(500, json={"detail": "WebUI could not connect to Ollama"})
        )
        return
    router.get(f"{base}/api/version").mock(
        return_value=httpx.Response(200, json={"version": "0.32.15"})
    )
    tags = {"models": [{"name": "qwenkit-chat:latest", "model": "qwenkit-chat:latest"}]}
    router.get(f"{base}/api/tags").mock(return_value=httpx.Response(200, json=tags))
    router.post(f"{base}/api/show").mock(return_value=httpx.Response(200, json=_show(num_ctx)))


def test_plan_presets_reads_the_ollama_open_webui_uses_before_host() -> None:
    with respx.mock(assert_all_called=False) as router:
        _proxied_ollama(router, 8192)
        wrong = router.post(f"{OLLAMA}/api/show").mock(
            return_value=httpx.Response(200, json=_show(32768))
        )
        with OpenWebUI(URL, token=SECRET) as webui:
            specs, _ = plan_presets(["chat"], host=OLLAMA, webui=webui)
        sent = [c.request for c in router.calls if "/ollama/" in str(c.request.url)]
    assert [s.num_ctx for s in specs] == [8192] and "8K" in specs[0].name
    assert not wrong.called
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in sent)


def test_plan_presets_falls_back_to_host_when_open_webui_cannot_reach_ollama() -> None:
    with respx.mock() as router:
        _proxied_ollama(router, 8192, up=False)
        router.post(f"{OLLAMA}/api/show").mock(return_value=httpx.Response(200, json=_show(16384)))
        with OpenWebUI(URL, token=SECRET) as webui:
            specs, _ = plan_presets(["chat"], host=OLLAMA, webui=webui)
            assert [s.num_ctx for s in specs] == [16384]
            with pytest.raises(WebUIError, match="Open WebUI's Ollama connection"):
                plan_presets(["chat"], host=None, webui=webui)


def test_unknown_variant_is_refused() -> None:
    with respx.mock() as router:
        router.post(f"{OLLAMA}/api/show").mock(return_value=httpx.Response(200, json=_show(1)))
        with pytest.raises(UnknownVariantError, match="nope") as info:
            plan_presets(["chat", "nope"], host=OLLAMA)
    assert info.value.exit_code == 2
