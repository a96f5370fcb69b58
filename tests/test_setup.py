"""The setup flow as a library: event order, confirmation, idempotence, Modelfile stamps,
version notes, the long variant — against the fake server with an injected profile."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qwenkit.client import Client
from qwenkit.errors import PlanError, QwenkitError, SetupError
from qwenkit.hardware import GPU, HardwareProfile
from qwenkit.modelfile import Modelfile
from qwenkit.setup import SetupOptions, expected_model, run_setup
from qwenkit.setup._files import is_pristine, stamp, write_modelfile
from tests.fake_ollama import FakeOllama
from tests.gguf_factory import make_qwen2_gguf

GiB = 1 << 30
TAG = "qwen2.5:7b-instruct-q4_K_M"


def gpu_box(vram_gib: float = 12, disk_gib: float = 200) -> HardwareProfile:
    return HardwareProfile(
        gpus=[GPU("nvidia", "RTX test", int(vram_gib * GiB), int(vram_gib * GiB) - GiB)],
        ram_total_bytes=32 * GiB,
        ram_available_bytes=28 * GiB,
        disk_free_bytes=int(disk_gib * GiB),
        os="linux",
        arch="x86_64",
    )


def run(fake: FakeOllama, tmp_path: Path, profile=None, **opts):
    options = SetupOptions(host=fake.url, out=tmp_path / "mf", **opts)
    with Client(fake.url) as client:
        return list(run_setup(options, client=client, profile=profile or gpu_box()))


def kinds(events) -> list[str]:
    return [e.kind for e in events]


@pytest.fixture
def fake():
    with FakeOllama(version="0.20.7") as server:
        server.add_library()
        yield server


def test_events_come_in_pipeline_order(fake, tmp_path):
    evs = run(fake, tmp_path)
    order = [k for k in kinds(evs) if k not in ("pull_progress", "pull_status", "warning")]
    assert order[:5] == ["probe", "plan", "server", "proposal", "pull_done"]
    assert order[5:8] == ["modelfile"] * 3 and order[8:11] == ["create"] * 3
    assert set(order[11:-1]) == {"check"} and order[-1] == "summary"
    summary = evs[-1]
    assert summary.failed == [] and summary.plan["tag"].startswith("qwen2.5:7b-instruct-")


def test_the_plan_follows_the_gpu_and_the_variants_get_its_context(fake, tmp_path):
    evs = run(fake, tmp_path, profile=gpu_box(vram_gib=24))
    plan = evs[1].plan
    assert plan["tag"] == "qwen2.5:7b-instruct-q8_0" and plan["num_ctx"] == 32768
    created = fake.requests_to("/api/create")
    assert {r.json["parameters"]["num_ctx"] for r in created} == {32768}
    assert {r.json["from"] for r in created} == {"qwen2.5:7b-instruct-q8_0"}


def test_declining_the_plan_changes_nothing(fake, tmp_path):
    asked = []
    options = SetupOptions(host=fake.url, out=tmp_path / "mf")
    with Client(fake.url) as client:
        evs = list(
            run_setup(options, client=client, profile=gpu_box(), confirm=lambda p: asked.append(p))
        )
    assert len(asked) == 1 and asked[0].tag.startswith("qwen2.5")
    assert kinds(evs)[-1] == "cancelled"
    assert {r.path for r in fake.requests} <= {"/api/version", "/api/tags", "/api/show"}  # reads
    assert not (tmp_path / "mf").exists()
    proposal = next(e for e in evs if e.kind == "proposal")  # what was put to the user
    assert proposal.pull == asked[0].tag and proposal.download_bytes > 4 * 2**30
    assert [m["action"] for m in proposal.models] == ["created"] * 3


def test_second_run_is_a_no_op_on_the_server(fake, tmp_path):
    run(fake, tmp_path)
    mark = len(fake.requests)
    evs = run(fake, tmp_path)
    writes = [r.path for r in fake.requests[mark:] if r.path in ("/api/pull", "/api/create")]
    assert writes == []
    assert [e.action for e in evs if e.kind == "create"] == ["unchanged"] * 3


def test_a_model_changed_on_the_server_is_recreated(fake, tmp_path):
    run(fake, tmp_path)
    fake.models["qwenkit-json"].parameters["temperature"] = 0.9
    evs = run(fake, tmp_path)
    actions = {e.model: (e.action, e.detail) for e in evs if e.kind == "create"}
    assert actions["qwenkit-json"][0] == "updated"
    assert "temperature" in actions["qwenkit-json"][1]
    assert actions["qwenkit-chat"][0] == "unchanged"


def test_quantized_kv_plan_warns_about_server_settings(fake, tmp_path):
    # 7.5 GiB: q4_K_M fits only with a q8_0 cache (8 GiB fits f16 at 8192 since calibration)
    evs = run(fake, tmp_path, profile=gpu_box(vram_gib=7.5), ctx=32768)
    plan = evs[1].plan
    assert plan["kv_cache_type"] == "q8_0"
    notes = [e.message for e in evs if e.kind == "warning"]
    assert any("OLLAMA_FLASH_ATTENTION=1" in n for n in notes)
    env = evs[-1].server_env["env"]
    assert env.get("OLLAMA_KV_CACHE_TYPE") == plan["kv_cache_type"]


def test_old_server_is_warned_about(tmp_path):
    with FakeOllama(version="0.9.0") as fake:
        fake.add_library()
        evs = run(fake, tmp_path)
    notes = " ".join(e.message for e in evs if e.kind == "warning")
    assert "/api/ps" in notes  # no context_length before 0.10.0


def test_remote_host_gets_a_note(fake, tmp_path):
    options = SetupOptions(host="http://gpu-box.example:11434", dry_run=True, out=tmp_path)
    evs = list(run_setup(options, profile=gpu_box()))
    assert any(e.kind == "warning" and "gpu-box.example" in e.message for e in evs)


def test_unknown_variant_is_refused(fake, tmp_path):
    with pytest.raises(QwenkitError, match="unknown variant"):
        run(fake, tmp_path, variants=("chat", "poetry"))


def test_too_little_disk_is_a_plan_error_before_any_request(fake, tmp_path):
    with pytest.raises(PlanError, match="disk"):
        run(fake, tmp_path, profile=gpu_box(disk_gib=2))
    assert fake.requests == []


def test_forced_quant_too_big_for_the_disk_stops_before_pulling(fake, tmp_path):
    with pytest.raises((PlanError, SetupError), match="disk"):
        run(fake, tmp_path, profile=gpu_box(disk_gib=6), quant="q8_0")
    assert fake.requests_to("/api/pull") == []


def test_dry_run_writes_modelfiles_that_parse_back(tmp_path):
    options = SetupOptions(host="127.0.0.1:9", dry_run=True, out=tmp_path)
    evs = list(run_setup(options, profile=gpu_box()))
    assert "server" not in kinds(evs)
    for e in evs:
        if e.kind == "modelfile":
            text = Path(e.path).read_text()
            assert is_pristine(text)
            parsed = Modelfile.parse(text)
            assert parsed.parameters["num_ctx"] == evs[1].plan["num_ctx"]


# ----------------------------------------------------------------------- stamps


def test_stamp_detects_any_edit():
    text = stamp("FROM x\nPARAMETER num_ctx 8192\n")
    assert is_pristine(text)
    assert not is_pristine(text.replace("8192", "4096"))
    assert not is_pristine("FROM x\n")
    assert not is_pristine(text + "# my note\n")


def test_write_modelfile_rules(tmp_path):
    path = tmp_path / "m.Modelfile"
    assert write_modelfile(path, "FROM a\n") == "created"
    assert write_modelfile(path, "FROM a\n") == "unchanged"
    assert write_modelfile(path, "FROM b\n") == "replaced"  # ours, for a new plan
    path.write_text(path.read_text().replace("FROM b", "FROM c"))
    with pytest.raises(QwenkitError, match="edited"):
        write_modelfile(path, "FROM d\n")
    assert "FROM c" in path.read_text()
    assert write_modelfile(path, "FROM d\n", force=True) == "replaced"


def test_expected_model_takes_num_ctx_out_of_the_parameters():
    mf = Modelfile(from_=TAG, system="S", parameters={"num_ctx": 8192, "top_k": 20})
    exp = expected_model("qwenkit-chat", mf, "q4_K_M")
    assert (exp.num_ctx, dict(exp.parameters), exp.system) == (8192, {"top_k": 20}, "S")


# ----------------------------------------------------------------------- long variant


@pytest.fixture
def long_fake(tmp_path):
    """A server whose q4_K_M model layer is a small real GGUF readable from here."""
    base = make_qwen2_gguf(tmp_path / "factory" / "base.gguf")
    digest = "sha256:" + hashlib.sha256(base.read_bytes()).hexdigest()
    store = tmp_path / "models"
    (store / "blobs").mkdir(parents=True)
    (store / "blobs" / digest.replace(":", "-")).write_bytes(base.read_bytes())
    with FakeOllama(version="0.20.7", models_dir=str(store)) as fake:
        fake.add_library()
        fake.add_local_model(
            TAG,
            model_digest=digest,
            model_size=base.stat().st_size,
            parameters={"stop": ["<|im_start|>", "<|im_end|>"]},
        )
        yield fake


def test_long_variant_is_built_verified_and_then_left_alone(long_fake, tmp_path):
    evs = run(long_fake, tmp_path, variants=("chat", "long"), quant="q4_K_M")
    assert evs[-1].failed == [], evs[-1].failed
    assert evs[-1].models == ["qwenkit-chat", "qwenkit-long"]
    long_created = [e for e in evs if e.kind == "create" and e.model == "qwenkit-long"]
    assert [e.action for e in long_created] == ["created"]
    yarn = next(e for e in evs if e.kind == "check" and e.name == "yarn")
    assert yarn.data == {"context_length": 131072, "rope_scaling": "yarn"}
    assert long_fake.models["qwenkit-long"].parameters["num_ctx"] == 131072

    mark = len(long_fake.requests)
    again = run(long_fake, tmp_path, variants=("chat", "long"), quant="q4_K_M")
    assert [e.action for e in again if e.kind == "create"] == ["unchanged", "unchanged"]
    hit = [r.path for r in long_fake.requests[mark:]]
    assert "/api/create" not in hit and not any(p.startswith("/api/blobs") for p in hit)


def test_a_plan_beyond_32k_adds_the_long_variant_and_caps_the_others(long_fake, tmp_path):
    evs = run(long_fake, tmp_path, profile=gpu_box(vram_gib=48), ctx=65536, quant="q4_K_M")
    plan = evs[1].plan
    assert plan["needs_yarn"] and plan["num_ctx"] == 65536
    assert long_fake.models["qwenkit-chat"].parameters["num_ctx"] == 32768
    assert long_fake.models["qwenkit-long"].parameters["num_ctx"] == 65536
    assert evs[-1].failed == []


def test_setup_plans_with_the_probe_options(tmp_path):
    """`probe --parallel 2 --allow-fp16` shows the plan `setup` with the same flags applies."""
    from qwenkit.cli.probe import probe as probe_command
    from qwenkit.cli.setup import setup as setup_command
    from qwenkit.planner import plan

    planner_flags = {"ctx", "quant", "parallel", "allow_fp16"}
    for command in (probe_command, setup_command):
        assert planner_flags <= {p.name for p in command.params}
    options = SetupOptions(
        host="127.0.0.1:9", dry_run=True, out=tmp_path, parallel=2, allow_fp16=True
    )
    planned = next(e for e in run_setup(options, profile=gpu_box()) if e.kind == "plan")
    expected = plan(gpu_box(), parallel=2, allow_fp16=True)
    assert planned.plan == expected.to_dict()
    assert planned.plan["parallel"] == 2 and planned.plan != plan(gpu_box()).to_dict()


def test_long_variant_is_loaded_and_its_context_read_from_ps(long_fake, tmp_path):
    """Not only the GGUF metadata: the warm-up loads it at 131072 and /api/ps must agree."""
    evs = run(long_fake, tmp_path, profile=gpu_box(vram_gib=24), variants=("long",),
              quant="q4_K_M")  # fmt: skip
    checks = {(e.name, e.model): e for e in evs if e.kind == "check"}
    context = checks[("context", "qwenkit-long")]
    assert context.status == "pass"
    assert context.data == {"context_length": 131072, "planned": 131072}
    warmups = [r.json["model"] for r in long_fake.requests_to("/api/chat")]
    assert "qwenkit-long" in warmups


def test_long_variant_that_does_not_fit_says_so_instead_of_loading(long_fake, tmp_path):
    evs = run(long_fake, tmp_path, profile=gpu_box(vram_gib=6), variants=("long",),
              quant="q4_K_M")  # fmt: skip
    context = next(e for e in evs if e.kind == "check" and e.name == "context")
    assert context.status == "skip" and context.model == "qwenkit-long"
    assert context.detail.startswith("not loaded: 131072 tokens do not fit with q4_K_M")
    assert "qwenkit-long" not in [r.json["model"] for r in long_fake.requests_to("/api/chat")]
