"""`qwenkit deploy vllm`: the memory model, the plan, the command lines and the compose files."""

from __future__ import annotations

import json
import os
import shlex
import stat

import pytest
import yaml
from click.testing import CliRunner

import qwenkit.cli.deploy as deploy_cli
from qwenkit.cli import cli
from qwenkit.deploy import deployment, every_argv, plan_vllm, read_api_key, write_deployment
from qwenkit.deploy.checkpoints import CHECKPOINTS, checkpoint, compute_capability
from qwenkit.deploy.memory import kv_bytes_per_token_per_gpu, weights_per_gpu
from qwenkit.errors import PlanError, QwenkitError
from qwenkit.hardware import GPU, HardwareProfile

GiB = 1 << 30
MiB = 1 << 20


def profile(*gpus: GPU) -> HardwareProfile:
    return HardwareProfile(gpus=list(gpus))


RTX4090 = GPU("nvidia", "NVIDIA GeForce RTX 4090", 24564 * MiB, 24000 * MiB, "550.54", 0)
RTX3090 = GPU("nvidia", "NVIDIA GeForce RTX 3090", 24576 * MiB, 24124 * MiB, "535.183.01", 0)


# -- memory model ---------------------------------------------------------------------


def test_kv_per_token_is_layers_heads_dim_kv_bytes():
    assert kv_bytes_per_token_per_gpu() == 28 * 4 * 128 * 2 * 2 == 57344
    assert kv_bytes_per_token_per_gpu("fp8") == 57344 // 2
    assert kv_bytes_per_token_per_gpu(tensor_parallel=2) == 57344 // 2
    assert kv_bytes_per_token_per_gpu(tensor_parallel=4) == 57344 // 4
    assert kv_bytes_per_token_per_gpu(tensor_parallel=8) == 57344 // 4  # heads are replicated
    assert kv_bytes_per_token_per_gpu(pipeline_parallel=3) == 57344 // 28 * 10  # ceil(28/3)


def test_weights_match_the_published_checkpoints():
    sizes = {c.name: c.weight_bytes / 1e9 for c in CHECKPOINTS}
    assert sizes["bf16"] == pytest.approx(15.23, abs=0.01)  # 7.6 B parameters × 2 bytes
    assert sizes["awq"] == pytest.approx(5.58, abs=0.1)
    assert sizes["gptq-int4"] == pytest.approx(5.58, abs=0.1)
    assert sizes["gptq-int8"] == pytest.approx(8.9, abs=0.15)
    bf16 = checkpoint("bf16")
    assert weights_per_gpu(bf16, tensor_parallel=2) == bf16.weight_bytes // 2
    # a pipeline stage holds half the blocks and only one of embedding / output
    assert weights_per_gpu(bf16, pipeline_parallel=2) < bf16.weight_bytes // 2 + 1 * GiB


def test_compute_capability_from_names():
    assert compute_capability("NVIDIA GeForce RTX 4090") == 8.9
    assert compute_capability("NVIDIA A100-SXM4-80GB") == 8.0
    assert compute_capability("NVIDIA A10G") == 8.6
    assert compute_capability("Quadro RTX 4000") == 7.5
    assert compute_capability("NVIDIA H100 80GB HBM3") == 9.0
    assert compute_capability("mystery") is None


# -- plan -----------------------------------------------------------------------------


def test_one_4090_takes_fp8_and_says_how_many_sequences():
    plan = plan_vllm(profile(RTX4090))
    assert plan.quantization == "fp8" and plan.quantization_flag == "fp8"
    assert plan.topology.kind == "single" and plan.context == 32768
    b = plan.budget
    assert b.kv_pool_bytes == b.usable_bytes - b.weights_bytes - b.margin_bytes
    assert plan.sequences == b.kv_pool_bytes // (57344 * 32768) >= 4
    assert any("bf16" in r or "fp8" in r for r in plan.reasons)
    # bf16 was tried first and held fewer than 4 full-context sequences
    bf16 = plan_vllm(profile(RTX4090), quant="bf16")
    assert 1 <= bf16.sequences < 4 and bf16.warnings


def test_a_3090_never_gets_fp8_and_the_plan_says_why():
    plan = plan_vllm(profile(RTX3090))
    assert plan.quantization != "fp8"
    assert any("fp8 not considered" in r and "8.6" in r for r in plan.reasons)
    with pytest.raises(PlanError, match=r"8\.9"):
        plan_vllm(profile(RTX3090), quant="fp8")


def test_two_3090s_split_bf16_rather_than_quantize():
    plan = plan_vllm(profile(RTX3090, RTX3090))
    assert (plan.quantization, plan.topology.kind, plan.topology.tensor_parallel) == (
        "bf16",
        "tensor",
        2,
    )
    assert "--tensor-parallel-size" in every_argv(plan)[0]


def test_busy_gpu_lowers_utilization():
    busy = GPU("nvidia", "NVIDIA GeForce RTX 4090", 24564 * MiB, 20000 * MiB, None, 0)
    plan = plan_vllm(profile(busy))
    assert plan.utilization < 0.82
    assert plan.utilization * busy.memory_total_bytes <= busy.memory_free_bytes
    assert any("other programs" in r for r in plan.reasons)


def test_yarn_beyond_32k_overrides_and_caveat():
    plan = plan_vllm(profile(), vram_bytes=80 * GiB, compute=9.0, context=131072)
    rope = plan.hf_overrides["rope_parameters"]
    assert rope == {
        "rope_type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 32768,
        "rope_theta": 1_000_000.0,
    }
    assert plan.hf_overrides["max_position_embeddings"] == 131072
    assert any("static" in w for w in plan.warnings)
    argv = every_argv(plan)[0]
    assert json.loads(argv[argv.index("--hf-overrides") + 1]) == plan.hf_overrides
    assert "--rope-scaling" not in argv
    assert plan_vllm(profile(), vram_bytes=80 * GiB, context=32768).hf_overrides is None


def test_flags_are_the_real_ones():
    argv = every_argv(plan_vllm(profile(RTX4090)))[0]
    words = " ".join(argv)
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in words
    assert "--served-model-name qwen2.5-7b-instruct" in words
    assert "--max-model-len 32768" in words and "--gpu-memory-utilization 0.9" in words
    assert "--enable-auto-tool-call " not in words + " " and "api-key" not in words


def test_several_nodes_default_to_replicas_and_say_why():
    plan = plan_vllm(profile(RTX4090), gpus=2, nodes=3, quant="fp8", head_address="10.0.0.1")
    topo = plan.topology
    assert topo.kind == "replicas" and topo.replicas == 6 and topo.pipeline_parallel == 1
    assert plan.sequences == plan.budget.sequences * 6
    assert any("fits one GPU" in r and "replicas" in r for r in plan.reasons)
    head, *workers = every_argv(plan)
    assert "--headless" not in head and len(workers) == 2
    assert workers[1][workers[1].index("--data-parallel-start-rank") + 1] == "4"
    assert head[head.index("--data-parallel-size") + 1] == "6"


def test_split_over_nodes_is_tensor_within_pipeline_across():
    plan = plan_vllm(profile(RTX3090), gpus=2, nodes=2, strategy="split", head_address="head")
    topo = plan.topology
    assert (topo.tensor_parallel, topo.pipeline_parallel, topo.replicas) == (2, 2, 1)
    argv = every_argv(plan)
    assert len(argv) == 1 and "ray" in argv[0]
    assert any("replicas" in r and "network" in r for r in plan.reasons)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gpus": 8, "strategy": "split"}, "28 attention heads"),
        ({"context": 262144}, "outside"),
        ({"context": 0}, "outside"),
        ({"nodes": 2}, "head node"),
        ({"nodes": 2, "head_address": "10.0.0.1; rm -rf /"}, "not an IPv4"),
        ({"served_name": "bad name\n"}, "served model name"),
        ({"quant": "q4_K_M"}, "unknown vLLM quantization"),
        ({"port": 0}, "port"),
        ({"utilization": 1.5}, "utilization"),
        ({"vram_bytes": 6 * GiB}, "no vLLM configuration holds one"),
    ],
)
def test_bad_inputs_are_plan_errors(kwargs, match):
    base = {"vram_bytes": 24 * GiB, "compute": 8.6}
    with pytest.raises(PlanError, match=match):
        plan_vllm(profile(), **{**base, **kwargs})


def test_no_nvidia_gpu_is_a_clear_error():
    amd = GPU("amd", "Radeon RX 7900 XTX", 24 * GiB)
    for p in (profile(), profile(amd)):
        with pytest.raises(PlanError, match="NVIDIA") as err:
            plan_vllm(p)
        assert "--vram" in (err.value.hint or "")


# -- compose --------------------------------------------------------------------------


def _services(plan):
    return {f.name: f for f in deployment(plan).files}


def test_single_node_compose_wires_open_webui_to_vllm():
    plan = plan_vllm(profile(RTX4090), served_name="team-qwen", port=8001)
    (file,) = deployment(plan).files
    assert yaml.safe_load(file.text) == file.config
    vllm, webui = file.config["services"]["vllm"], file.config["services"]["open-webui"]
    assert vllm["command"] == every_argv(plan)[0]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    device = vllm["deploy"]["resources"]["reservations"]["devices"][0]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert vllm["env_file"] == ["vllm.env"] and vllm["ipc"] == "host"
    assert webui["environment"]["OPENAI_API_BASE_URLS"] == "http://vllm:8001/v1"
    assert webui["environment"]["DEFAULT_MODELS"] == "team-qwen"
    assert webui["environment"]["ENABLE_OLLAMA_API"] == "False"
    assert webui["env_file"] == ["vllm.env"]


def test_tensor_parallel_compose_reserves_every_gpu():
    plan = plan_vllm(profile(RTX3090), gpus=4, strategy="split")
    (file,) = deployment(plan).files
    device = file.config["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["count"] == 4
    assert "--tensor-parallel-size" in file.config["services"]["vllm"]["command"]


def test_ray_cluster_files_per_node():
    plan = plan_vllm(profile(RTX3090), gpus=2, nodes=3, strategy="split", head_address="10.0.0.1")
    dep = deployment(plan)
    files = {f.name: f for f in dep.files}
    assert list(files) == ["head.compose.yaml", "worker-1.compose.yaml", "worker-2.compose.yaml"]
    head = files["head.compose.yaml"].config["services"]["vllm"]
    script = head["command"][0]
    assert head["network_mode"] == "host" and head["entrypoint"] == ["/bin/bash", "-c"]
    assert "ray start --head --port=6379" in script and "< 6)" in script
    serve = shlex.split(script.split(" && ")[-1])
    assert serve[:3] == ["exec", "vllm", "serve"] and serve[3:] == every_argv(plan)[0]
    worker = files["worker-1.compose.yaml"].config["services"]["ray-worker"]
    assert "--address=10.0.0.1:6379" in worker["command"][0]
    assert worker["environment"]["VLLM_HOST_IP"].startswith("${NODE_IP:?")
    assert "env_file" not in worker
    for f in dep.files:
        assert yaml.safe_load(f.text) == f.config
    webui = files["head.compose.yaml"].config["services"]["open-webui"]
    assert webui["environment"]["OPENAI_API_BASE_URLS"] == "http://host.docker.internal:8000/v1"
    assert webui["extra_hosts"] == ["host.docker.internal:host-gateway"]
    assert dep.steps[1].startswith("on the head") and "worker 2" in dep.steps[3]


def test_replica_nodes_run_headless_workers():
    plan = plan_vllm(profile(RTX4090), gpus=2, nodes=2, head_address="gpu-head.lan")
    files = _services(plan)
    worker = files["worker-1.compose.yaml"].config["services"]["vllm"]
    assert "--headless" in worker["command"] and worker["network_mode"] == "host"
    assert "open-webui" in files["head.compose.yaml"].config["services"]


# -- files and the key ----------------------------------------------------------------


def test_key_file_is_private_reused_and_never_in_compose(tmp_path):
    dep = deployment(plan_vllm(profile(RTX4090)))
    written = write_deployment(dep, tmp_path)
    env = tmp_path / "vllm.env"
    assert {w.path.name: w.result for w in written} == {
        "vllm.env": "created",
        "compose.yaml": "created",
    }
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    key = read_api_key(env)
    assert key and len(key) >= 40
    text = env.read_text()
    assert f"VLLM_API_KEY={key}\n" in text and f"OPENAI_API_KEYS={key}\n" in text
    assert key not in (tmp_path / "compose.yaml").read_text()
    os.chmod(env, 0o644)
    again = write_deployment(dep, tmp_path)
    assert [w.result for w in again] == ["unchanged", "unchanged"]
    assert read_api_key(env) == key and stat.S_IMODE(env.stat().st_mode) == 0o600


def test_edited_compose_is_kept_without_force(tmp_path):
    dep = deployment(plan_vllm(profile(RTX4090)))
    write_deployment(dep, tmp_path)
    (tmp_path / "compose.yaml").write_text("# mine\n")
    with pytest.raises(QwenkitError, match="differs"):
        write_deployment(dep, tmp_path)
    assert (tmp_path / "compose.yaml").read_text() == "# mine\n"
    write_deployment(dep, tmp_path, force=True)
    assert "vllm" in (tmp_path / "compose.yaml").read_text()


def test_env_file_without_key_is_not_overwritten(tmp_path):
    (tmp_path / "vllm.env").write_text("HF_TOKEN=x\n")
    with pytest.raises(QwenkitError, match="no VLLM_API_KEY"):
        write_deployment(deployment(plan_vllm(profile(RTX4090))), tmp_path)
    assert (tmp_path / "vllm.env").read_text() == "HF_TOKEN=x\n"


# -- CLI ------------------------------------------------------------------------------


@pytest.fixture
def fake_probe(monkeypatch):
    monkeypatch.setattr(deploy_cli, "probe_hardware", lambda **kw: profile(RTX4090, RTX4090))


def test_cli_writes_files_and_never_prints_the_key(fake_probe, tmp_path):
    result = CliRunner().invoke(cli, ["deploy", "vllm", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    key = read_api_key(tmp_path / "vllm.env")
    assert key and key not in result.output
    assert "vllm serve Qwen/Qwen2.5-7B-Instruct" in result.output
    assert "sequences of 32768 tokens" in result.output
    assert "docker compose -f compose.yaml up -d" in result.output


def test_cli_json(fake_probe, tmp_path):
    args = ["deploy", "vllm", "--json", "--nodes", "2", "--head-address", "10.1.2.3"]
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["plan"]["topology"]["kind"] == "replicas"
    assert len(data["argv"]) == 2 and set(data["deployment"]["files"]) == {
        "head.compose.yaml",
        "worker-1.compose.yaml",
    }
    assert read_api_key(tmp_path / "vllm.env") not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--gpus", "0"],
        ["--ctx", "-5"],
        ["--ctx", "999999999"],
        ["--nodes", "3"],
        ["--head-address", "$(reboot)", "--nodes", "2"],
        ["--served-name", ""],
        ["--quant", "int3"],
        ["--gpu-memory-utilization", "nan"],
        ["--vram", "-1"],
        ["--gpus", "8", "--strategy", "split"],
    ],
)
def test_cli_hostile_values_exit_cleanly(fake_probe, args):
    result = CliRunner().invoke(cli, ["deploy", "vllm", *args])
    assert result.exit_code in (2, 4), result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
