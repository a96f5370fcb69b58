"""The long-context variant end to end against the fake Ollama, and its pure pieces."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from gguf import GGUFReader

from qwenkit.client import Client
from qwenkit.errors import QwenkitError, SetupError
from qwenkit.longctx import (
    CreateStatus,
    LongEvent,
    LongVariantReady,
    StepNotice,
    StepSkipped,
    StepStarted,
    answer_has_passkey,
    blob_digest,
    build_long_variant,
    chat_template,
    create_body,
    extended_name,
    locate_local_gguf,
    long_input_check,
    passkey_prompt,
)
from qwenkit.setup._long import build_long
from qwenkit.setup.verify import ExpectedModel, check_loaded
from qwenkit.variants import (
    QWEN25_TEMPLATE,
    QWEN_DEFAULT_SYSTEM,
    VARIANTS,
    repair_template,
    yarn_gguf_filename,
)
from tests.fake_ollama import QWEN_TEMPLATE, FakeOllama
from tests.gguf_factory import make_qwen2_gguf

BASE = "qwen2.5:7b-instruct-q4_K_M"
LONG = "qwenkit-long"
STOP = ["<|im_start|>", "<|im_end|>"]
REG = "https://registry.test"


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def base_gguf(tmp_path: Path) -> Path:
    return make_qwen2_gguf(tmp_path / "factory" / "base.gguf")


@pytest.fixture
def store(tmp_path: Path, base_gguf: Path) -> Path:
    """An Ollama models folder holding the base GGUF under its content address."""
    models = tmp_path / "models"
    (models / "blobs").mkdir(parents=True)
    blob = models / "blobs" / sha256_of(base_gguf).replace(":", "-")
    blob.write_bytes(base_gguf.read_bytes())
    return models


def serve(models_dir: Path, base_gguf: Path) -> FakeOllama:
    fake = FakeOllama(models_dir=str(models_dir))
    fake.add_local_model(
        BASE,
        model_digest=sha256_of(base_gguf),
        model_size=base_gguf.stat().st_size,
        parameters={"stop": list(STOP), "temperature": 0.7},
    )
    return fake


@pytest.fixture
def fake(store: Path, base_gguf: Path) -> Iterator[FakeOllama]:
    with serve(store, base_gguf) as server:
        yield server


def run(client: Client, workdir: Path, **kwargs: Any) -> list[LongEvent]:
    opts: dict[str, Any] = {
        "base_model": BASE,
        "model_name": LONG,
        "num_ctx": 131072,
        "workdir": workdir,
    }
    opts.update(kwargs)
    return list(build_long_variant(client, **opts))


def steps(events: list[LongEvent], kind: type[LongEvent]) -> list[str]:
    return [e.step for e in events if type(e) is kind]


# --- end to end against the fake Ollama -----------------------------------------------------


def test_long_variant_end_to_end(fake: FakeOllama, base_gguf: Path, tmp_path: Path) -> None:
    progress: dict[str, tuple[int, int]] = {}
    with Client(fake.url) as client:
        events = run(
            client, tmp_path / "work", progress=lambda s, d, t: progress.update({s: (d, t)})
        )
        assert steps(events, StepSkipped) == ["download"]  # the server's blob is readable here
        assert steps(events, StepStarted) == ["extend", "upload", "create"]
        statuses = [e.status for e in events if isinstance(e, CreateStatus)]
        assert statuses[0] == "parsing GGUF" and statuses[-1] == "success"
        ready = events[-1]
        assert isinstance(ready, LongVariantReady) and ready.context_length == 131072
        assert ready.gguf == ""  # the 4.7 GB copy is gone once the server holds it
        assert {s: d == t for s, (d, t) in progress.items()} == {"extend": True, "upload": True}

        created = fake.models[LONG]
        # the chat template survives, its tool schemas repaired to print as JSON
        assert created.template == repair_template(QWEN_TEMPLATE) != QWEN_TEMPLATE
        files = fake.requests_to("/api/create")[-1].json["files"]
        assert files == {yarn_gguf_filename("q4_K_M", 131072): ready.digest}
        assert created.parameters["stop"] == STOP and created.parameters["num_ctx"] == 131072
        assert created.parameters["temperature"] == 0.7
        assert created.license and created.context_length == 131072

        uploaded = tmp_path / "uploaded.gguf"
        uploaded.write_bytes(fake.blobs[ready.digest])
        new, old = GGUFReader(uploaded), GGUFReader(base_gguf)
        assert new.fields["qwen2.rope.scaling.type"].contents() == "yarn"
        for a, b in zip(old.tensors, new.tensors, strict=True):
            assert a.data.tobytes() == b.data.tobytes()

        checks = check_loaded(client, ExpectedModel(LONG, 131072))
        assert all(c.status == "pass" for c in checks), checks
        assert [m.context_length for m in client.ps().models if m.name.startswith(LONG)] == [131072]


def test_the_unscaled_base_is_clamped_but_the_long_variant_is_not(
    fake: FakeOllama, tmp_path: Path
) -> None:
    with Client(fake.url) as client:
        client.create(BASE + "-128k", from_=BASE, parameters={"num_ctx": 131072})
        run(client, tmp_path / "work")
        for name in (BASE + "-128k", LONG):
            client.chat(name, [{"role": "user", "content": "hi"}], options={"num_predict": 1})
        used = {m.name.removesuffix(":latest"): m.context_length for m in client.ps().models}
    assert used == {BASE + "-128k": 32768, LONG: 131072}


def test_rerun_skips_extend_and_upload(fake: FakeOllama, tmp_path: Path) -> None:
    with Client(fake.url) as client:
        run(client, tmp_path / "work")
        again = run(client, tmp_path / "work")
    assert steps(again, StepSkipped) == ["extend", "upload"]
    assert steps(again, StepStarted) == ["create"]
    posts = [r for r in fake.requests if r.method == "POST" and r.path.startswith("/api/blobs/")]
    assert len(posts) == 1
    assert isinstance(again[-1], LongVariantReady) and again[-1].context_length == 131072


def test_kept_file_is_reused_when_the_server_lost_the_blob(
    fake: FakeOllama, tmp_path: Path
) -> None:
    with Client(fake.url) as client:
        first = run(client, tmp_path / "work", keep_gguf=True)
        ready = first[-1]
        assert isinstance(ready, LongVariantReady) and Path(ready.gguf).is_file()
        fake.blobs.clear()
        fake.state.present.discard(ready.digest)
        again = run(client, tmp_path / "work", keep_gguf=True)
    assert "extend" in steps(again, StepSkipped)
    assert steps(again, StepStarted) == ["upload", "create"]


# --- the long variant inside setup ----------------------------------------------------------

PLAN = SimpleNamespace(quantization="q4_K_M", num_ctx=131072, needs_yarn=True, tag=BASE)


def setup_long(client: Client, workdir: Path) -> tuple[str, list[LongEvent]]:
    """Drive `_setup_long.build_long` as setup does; its return value is the action."""
    events: list[LongEvent] = []
    steps = build_long(client, LONG, PLAN, workdir=workdir)  # type: ignore[arg-type]
    while True:
        try:
            events.append(next(steps))
        except StopIteration as stop:
            return stop.value, events


def test_setup_gives_the_long_variant_its_own_settings_and_the_base_template(
    fake: FakeOllama, tmp_path: Path
) -> None:
    with Client(fake.url) as client:
        action, _ = setup_long(client, tmp_path / "work")
        created = fake.models[LONG]
        assert action == "created" and created.template == repair_template(QWEN_TEMPLATE)
        assert created.system == QWEN_DEFAULT_SYSTEM
        expected = VARIANTS["long"].build("q4_K_M", 131072).parameters
        assert {k: created.parameters[k] for k in expected} == expected

        assert setup_long(client, tmp_path / "work") == ("unchanged", [])
        created.template = "{{ .Prompt }}"  # drifted: rebuilt with the base's template
        action, events = setup_long(client, tmp_path / "work")
        assert action == "updated" and fake.models[LONG].template == repair_template(QWEN_TEMPLATE)
        assert steps(events, StepSkipped) == ["extend", "upload"]


def test_setup_falls_back_to_qwen25_template_when_the_base_has_none(
    fake: FakeOllama, tmp_path: Path
) -> None:
    fake.models[BASE].template = ""
    with Client(fake.url) as client:
        assert setup_long(client, tmp_path / "work")[0] == "created"
        assert fake.models[LONG].template == QWEN25_TEMPLATE
        assert setup_long(client, tmp_path / "work") == ("unchanged", [])


def test_missing_base_model_is_a_setup_error(fake: FakeOllama, tmp_path: Path) -> None:
    with Client(fake.url) as client, pytest.raises(SetupError, match="not on the server") as err:
        run(client, tmp_path / "work", base_model="qwen2.5:7b-instruct-q8_0")
    assert "ollama pull" in (err.value.hint or "")


def test_create_refusal_is_a_setup_error(fake: FakeOllama, tmp_path: Path) -> None:
    with Client(fake.url) as client, pytest.raises(SetupError, match="creating") as err:
        run(client, tmp_path / "work", model_name="bad name!")
    assert err.value.step == "create"


def test_remote_server_downloads_the_base_from_the_registry(
    tmp_path: Path, base_gguf: Path
) -> None:
    """The server's models folder is not readable here: the blob comes from the registry."""
    digest = sha256_of(base_gguf)
    manifest = {
        "schemaVersion": 2,
        "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest,
                    "size": base_gguf.stat().st_size}],
    }  # fmt: skip
    with serve(tmp_path / "elsewhere", base_gguf) as server, respx.mock() as router:
        router.route(host="127.0.0.1").pass_through()
        router.get(f"{REG}/v2/library/qwen2.5/manifests/7b-instruct-q4_K_M").mock(
            return_value=httpx.Response(200, json=manifest)
        )
        router.get(f"{REG}/v2/library/qwen2.5/blobs/{digest}").mock(
            return_value=httpx.Response(200, content=base_gguf.read_bytes())
        )
        with Client(server.url) as client:
            events = run(client, tmp_path / "work", registry=REG)
        assert steps(events, StepStarted)[:2] == ["download", "extend"]
        assert not any(isinstance(e, StepNotice) for e in events)
        assert isinstance(events[-1], LongVariantReady) and server.models[LONG].context_length
    assert not list((tmp_path / "work").glob("sha256-*"))  # the downloaded base is cleaned up


# --- pure pieces ----------------------------------------------------------------------------


def modelfile_for(path: Path) -> str:
    return f'# Modelfile generated by "ollama show"\n# FROM {BASE}\nFROM {path}\nTEMPLATE x\n'


def test_locate_local_gguf(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = next((store / "blobs").iterdir())
    assert locate_local_gguf(modelfile_for(blob)) == blob
    elsewhere = Path("/nonexistent/models/blobs") / blob.name
    assert locate_local_gguf(modelfile_for(elsewhere)) is None
    assert (
        locate_local_gguf(modelfile_for(elsewhere), models_dir=store) == store / "blobs" / blob.name
    )
    monkeypatch.setenv("OLLAMA_MODELS", str(store))
    assert locate_local_gguf(modelfile_for(elsewhere)) == blob
    assert locate_local_gguf("FROM qwen2.5:7b\n") is None
    assert locate_local_gguf(None) is None


def test_locate_ignores_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    fake_blob = tmp_path / ("sha256-" + "0" * 64)
    fake_blob.write_text("not a model")
    assert locate_local_gguf(modelfile_for(fake_blob)) is None


def test_blob_digest_and_names() -> None:
    hexes = "AB" * 32
    assert blob_digest(f"FROM /x/blobs/sha256-{hexes}\n") == "sha256:" + hexes.lower()
    assert blob_digest("FROM qwen2.5\n") is None
    assert extended_name("me/model:tag", 65536) == "me-model-tag-yarn-65536.gguf"


@pytest.mark.parametrize("quant", ["q8_0", "q4_K_M", "Q4_K_M", "fp16"])
@pytest.mark.parametrize("num_ctx", [65536, 131072])
def test_one_file_name_for_setup_and_the_long_modelfile(quant: str, num_ctx: int) -> None:
    tag = f"qwen2.5:7b-instruct-{quant}"
    name = extended_name(tag, num_ctx)
    assert (
        name == yarn_gguf_filename(quant, num_ctx) == VARIANTS["long"].build(quant, num_ctx).from_
    )
    assert name.startswith("qwen2.5-7b-instruct-") and name.endswith(f"-yarn-{num_ctx}.gguf")


def test_the_bundled_long_modelfile_names_the_file_setup_builds() -> None:
    bundled = Path(__file__).parent.parent / "modelfiles" / "qwenkit-long.Modelfile"
    from_line = next(ln for ln in bundled.read_text().splitlines() if ln.startswith("FROM "))
    assert from_line == f"FROM {extended_name(BASE, 131072)}"


def test_create_body_carries_template_stop_and_license() -> None:
    shown = SimpleNamespace(
        template="{{ .Prompt }}",
        license="Apache-2.0",
        system="",
        parameters='stop                           "<|im_start|>"\n'
        'stop                           "<|im_end|>"\n'
        "temperature                    0.7",
    )
    body = create_body(shown, LONG, "x.gguf", "sha256:" + "a" * 64, 65536,
                       parameters={"temperature": 0.3, "top_k": 20})  # fmt: skip
    assert body == {
        "model": LONG,
        "files": {"x.gguf": "sha256:" + "a" * 64},
        "parameters": {"stop": STOP, "temperature": 0.3, "top_k": 20, "num_ctx": 65536},
        "template": "{{ .Prompt }}",
        "license": "Apache-2.0",
    }
    custom = create_body(shown, LONG, "x.gguf", "d", 1, system="Be brief.", template="T")
    assert (custom["system"], custom["template"]) == ("Be brief.", "T")


@pytest.mark.parametrize("template", [None, ""])
def test_a_base_without_template_gets_qwen25s(template: str | None) -> None:
    """A model created from a bare GGUF with no TEMPLATE would lose chat format and tools."""
    shown = SimpleNamespace(template=template, license=None, system=None, parameters=None)
    assert create_body(shown, LONG, "x.gguf", "d", 1)["template"] == QWEN25_TEMPLATE
    assert chat_template(SimpleNamespace(template="{{ .Prompt }}")) == "{{ .Prompt }}"


def test_passkey_prompt_buries_the_fact_in_the_middle() -> None:
    small, big = passkey_prompt(1_000, seed=3), passkey_prompt(100_000, seed=3)
    assert small.passkey == big.passkey  # seeded
    assert passkey_prompt(1_000, seed=4).passkey != small.passkey
    where = big.prompt.index(big.passkey) / len(big.prompt)
    assert 0.45 < where < 0.55
    assert 95_000 <= big.approx_tokens <= 100_000
    assert len(big.prompt) / len(small.prompt) > 90
    assert big.prompt.rstrip().endswith("Answer with the number only.")
    with pytest.raises(QwenkitError):
        passkey_prompt(50)


@pytest.mark.parametrize(
    ("answer", "ok"),
    [("48213", True), ("The pass key is 48,213.", True), ("148213", False), ("4821", False),
     ("I don't know", False)],
)  # fmt: skip
def test_answer_has_passkey(answer: str, ok: bool) -> None:
    assert answer_has_passkey(answer, "48213") is ok


def test_long_input_check_against_the_fake(fake: FakeOllama) -> None:
    key = passkey_prompt(2000, seed=7).passkey
    fake.chat_script.extend([f"The pass key is {key}.", "No idea."])
    with Client(fake.url) as client:
        good = long_input_check(client, BASE, 2000, seed=7)
        bad = long_input_check(client, BASE, 2000, seed=7)
    assert good.passed and good.passkey == key and not good.truncated
    assert not bad.passed and bad.answer == "No idea."
    chat = fake.requests_to("/api/chat")[-1].json
    assert chat["options"]["temperature"] == 0 and key in chat["messages"][0]["content"]


def test_long_input_check_flags_a_truncated_prompt() -> None:
    class Short:
        def chat(self, model: str, messages: Any, **kw: Any) -> Any:
            self.options = kw["options"]
            key = messages[0]["content"].split("The pass key is ")[1][:5]
            return SimpleNamespace(message=SimpleNamespace(content=key), prompt_eval_count=4000)

    client = Short()
    result = long_input_check(client, LONG, 100_000, num_ctx=131072, seed=1)  # type: ignore[arg-type]
    assert result.truncated and not result.passed and result.prompt_tokens == 4000
    assert client.options["num_ctx"] == 131072
    assert result.to_dict()["event"] == "long_check"


def test_events_serialise_for_json() -> None:
    event = StepSkipped("upload", "present")
    assert event.to_dict() == {"event": "long_skip", "step": "upload", "reason": "present"}
