"""The exact `vllm serve` argument lists for a plan, one per node that runs vLLM.

Every flag was read from vLLM's own argument parser (vllm 0.34.0,
`vllm/engine/arg_utils.py` and `vllm/entrypoints/common/cli_args.py`); the lists are parsed by
that parser in `benchmarks/check_vllm_flags.py`. The API key is never an argument (it would
show in `ps` and in `docker inspect`): vLLM reads `VLLM_API_KEY` from the environment.

>>> from qwenkit.hardware import HardwareProfile
>>> from qwenkit.deploy.plan import plan_vllm
>>> plan = plan_vllm(HardwareProfile(), vram_bytes=80 << 30, compute=9.0)
>>> " ".join(serve_argv(plan))  # doctest: +NORMALIZE_WHITESPACE
'Qwen/Qwen2.5-7B-Instruct --served-model-name qwen2.5-7b-instruct --host 0.0.0.0 --port 8000
 --max-model-len 32768 --gpu-memory-utilization 0.9 --enable-auto-tool-choice
 --tool-call-parser hermes'
"""

from __future__ import annotations

import json

from .plan import VllmPlan

#: ZMQ port the data-parallel head and workers talk on (vLLM's documented example port).
DP_RPC_PORT = 13345
RAY_PORT = 6379
API_KEY_ENV = "VLLM_API_KEY"


def serve_argv(plan: VllmPlan, *, worker: int | None = None) -> list[str]:
    """`vllm serve` arguments (without `vllm serve`) for the head, or for data-parallel `worker`
    k (1-based), which runs headless: engines only, the head's API server balances over all."""
    argv = [plan.model, "--served-model-name", plan.served_name]
    argv += ["--host", "0.0.0.0", "--port", str(plan.port)]
    argv += ["--max-model-len", str(plan.context)]
    argv += ["--gpu-memory-utilization", f"{plan.utilization:g}"]
    if plan.quantization_flag:
        argv += ["--quantization", plan.quantization_flag]
    if plan.dtype:
        argv += ["--dtype", plan.dtype]
    if plan.kv_cache_dtype != "auto":
        argv += ["--kv-cache-dtype", plan.kv_cache_dtype]
    if plan.hf_overrides is not None:
        argv += ["--hf-overrides", json.dumps(plan.hf_overrides, separators=(",", ":"))]
    argv += ["--enable-auto-tool-choice", "--tool-call-parser", "hermes"]
    return argv + _parallel_args(plan, worker)


def _parallel_args(plan: VllmPlan, worker: int | None) -> list[str]:
    topo = plan.topology
    args: list[str] = []
    if topo.tensor_parallel > 1:
        args += ["--tensor-parallel-size", str(topo.tensor_parallel)]
    if topo.pipeline_parallel > 1:
        args += ["--pipeline-parallel-size", str(topo.pipeline_parallel)]
        args += ["--distributed-executor-backend", "ray"]
    if topo.replicas > 1:
        args += ["--data-parallel-size", str(topo.replicas)]
        if topo.nodes > 1:
            local = topo.replicas_per_node
            args += ["--data-parallel-size-local", str(local)]
            args += ["--data-parallel-address", str(plan.head_address)]
            args += ["--data-parallel-rpc-port", str(DP_RPC_PORT)]
            if worker is not None:
                args += ["--headless", "--data-parallel-start-rank", str(worker * local)]
    return args


def every_argv(plan: VllmPlan) -> list[list[str]]:
    """Every `vllm serve` argument list the deployment runs: the head's, then each worker's."""
    argv = [serve_argv(plan)]
    if plan.topology.kind == "replicas" and plan.topology.nodes > 1:
        argv += [serve_argv(plan, worker=k) for k in range(1, plan.topology.nodes)]
    return argv
