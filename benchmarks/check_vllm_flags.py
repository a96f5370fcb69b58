"""Parse every `vllm serve` command line qwenkit generates with vLLM's own argument parser.

Not part of CI: vLLM pulls a CUDA PyTorch of several GB. It needs a Python that can import
`vllm` (CPU is enough), e.g. a scratch venv outside the repository:

    python3 -m venv /tmp/vllm-venv && /tmp/vllm-venv/bin/pip install torch==2.13.0
    /tmp/vllm-venv/bin/pip install --no-deps vllm==0.34.0   # then the modules its parser imports
    python benchmarks/check_vllm_flags.py --vllm-python /tmp/vllm-venv/bin/python

For a matrix of plans (1 GPU, N GPUs, N nodes as replicas or through Ray, YaRN, every
checkpoint, fp8 KV) it takes the command lines *out of the rendered compose files* — exactly
what the containers run — and, in the vLLM interpreter (VLLM_TARGET_DEVICE=cpu):

1. parses each with `make_arg_parser(FlexibleArgumentParser())` (an unknown flag exits),
   then `validate_parsed_serve_args`;
2. checks the tool parser named by `--tool-call-parser` is registered;
3. builds vLLM's `ModelConfig` from the parsed flags against a local copy of Qwen2.5-7B-
   Instruct's `config.json`, which applies `--hf-overrides` and checks `--max-model-len`;
4. runs negative controls that must fail (the flags the issue's guide used, and YaRN without
   the scaled `max_position_embeddings`), so a parser that accepted anything would show.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from typing import Any

from qwenkit.deploy import deployment, plan_vllm
from qwenkit.hardware import HardwareProfile

GiB = 1 << 30

#: Qwen/Qwen2.5-7B-Instruct's config.json (the fields vLLM's ModelConfig reads).
QWEN_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "qwen2",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 152064,
}

PLANS: list[dict[str, Any]] = [
    {"vram_bytes": 24 * GiB, "compute": 8.9},
    {"vram_bytes": 24 * GiB, "compute": 8.6, "context": 131072},
    {"vram_bytes": 80 * GiB, "compute": 9.0, "context": 131072, "kv_cache_dtype": "fp8"},
    {"vram_bytes": 16 * GiB, "compute": 7.5},
    {"vram_bytes": 16 * GiB, "compute": 7.5, "quant": "gptq-int8", "context": 8192},
    {"vram_bytes": 12 * GiB, "compute": 8.6, "quant": "gptq-int4", "context": 16384},
    {"vram_bytes": 32 * GiB, "compute": 7.0, "quant": "bf16", "context": 16384},
    {"vram_bytes": 24 * GiB, "compute": 8.6, "gpus": 2, "strategy": "split"},
    {"vram_bytes": 24 * GiB, "compute": 8.6, "gpus": 4, "strategy": "replicas"},
    {"vram_bytes": 24 * GiB, "compute": 8.9, "gpus": 4, "nodes": 3, "head_address": "10.0.0.1"},
    {
        "vram_bytes": 24 * GiB,
        "compute": 8.6,
        "gpus": 2,
        "nodes": 2,
        "strategy": "split",
        "context": 131072,
        "head_address": "10.0.0.1",
    },
    {"vram_bytes": 48 * GiB, "compute": 8.6, "gpus": 8, "nodes": 2, "head_address": "head"},
]

BASE = "Qwen/Qwen2.5-7B-Instruct"
NEGATIVE = [
    ("the guide's --enable-auto-tool-call", [BASE, "--enable-auto-tool-call"]),
    ("--rope-scaling (dropped from vLLM)", [BASE, "--rope-scaling", "{}"]),
    (
        "YaRN rope_parameters without max_position_embeddings at 131072",
        [
            BASE,
            "--max-model-len",
            "131072",
            "--hf-overrides",
            '{"rope_parameters":{"rope_type":"yarn","factor":4.0,'
            '"original_max_position_embeddings":32768}}',
        ],
    ),
]
NEGATIVE_PARSERS = ["qwen"]  # the guide's --tool-call-parser=qwen

#: Runs inside the vLLM interpreter: reads {"argv": [...], "negative": [...], ...} on stdin.
CHECKER = r"""
import json, os, sys, tempfile, contextlib, io
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import vllm
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.entrypoints.common.cli_args import make_arg_parser, validate_parsed_serve_args
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.tool_parsers import ToolParserManager

job = json.load(sys.stdin)
model_dir = tempfile.mkdtemp()
with open(os.path.join(model_dir, "config.json"), "w") as fh:
    json.dump(job["config"], fh)
parsers = set(ToolParserManager.list_registered())

def check(argv):
    parser = make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = parser.parse_args(argv)
    except SystemExit:
        return "parse: " + err.getvalue().strip().splitlines()[-1]
    ns.model = ns.model_tag or ns.model
    try:
        validate_parsed_serve_args(ns)
    except Exception as exc:
        return f"validate: {exc}"
    if ns.enable_auto_tool_choice and ns.tool_call_parser not in parsers:
        return f"tool parser {ns.tool_call_parser!r} not registered"
    ns.model = model_dir
    for name in ("quantization", "kv_cache_dtype"):  # need the real checkpoint / a GPU
        setattr(ns, name, None if name == "quantization" else "auto")
    ns.skip_tokenizer_init = True
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cfg = AsyncEngineArgs.from_cli_args(ns).create_model_config()
    except Exception as exc:
        return "model config: " + str(exc).strip().splitlines()[0][:300]
    return {"max_model_len": cfg.max_model_len, "rope": cfg.hf_config.rope_parameters,
            "tp": ns.tensor_parallel_size, "pp": ns.pipeline_parallel_size,
            "dp": ns.data_parallel_size, "tool_parser": ns.tool_call_parser}

out = {"version": vllm.__version__, "results": [check(a) for a in job["argv"]],
       "negative": [check(a) for a in job["negative"]],
       "parsers": {p: p in parsers for p in job["parsers"]}}
print("@@" + json.dumps(out))
"""


def argv_from_compose(config: dict[str, Any]) -> list[list[str]]:
    """The `vllm serve` arguments each service of a compose file runs."""
    found = []
    for service in config["services"].values():
        if not str(service.get("image", "")).startswith("vllm/"):
            continue
        command = service["command"]
        if "entrypoint" not in service:
            found.append([str(x) for x in command])
            continue
        script = command[0].replace("$$", "$")
        for part in script.split(" && "):
            words = shlex.split(part)
            if words[:3] == ["exec", "vllm", "serve"]:
                found.append(words[3:])
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vllm-python", required=True, help="a Python that can import vllm")
    args = ap.parse_args()
    cases: list[tuple[str, list[str]]] = []
    for kw in PLANS:
        plan = plan_vllm(HardwareProfile(), **kw)
        for file in deployment(plan).files:
            for argv in argv_from_compose(file.config):
                label = f"{plan.topology.kind} {plan.quantization} ctx {plan.context} {file.name}"
                cases.append((label, argv))
    job = {
        "config": QWEN_CONFIG,
        "argv": [a for _, a in cases],
        "negative": [a for _, a in NEGATIVE],
        "parsers": ["hermes", *NEGATIVE_PARSERS],
    }
    proc = subprocess.run(
        [args.vllm_python, "-c", CHECKER],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
        env={"VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@")]
    if proc.returncode != 0 or not marker:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 2
    out = json.loads(marker[-1][2:])
    failures = 0
    print(f"vllm {out['version']}: make_arg_parser + validate_parsed_serve_args + ModelConfig")
    for (label, argv), result in zip(cases, out["results"], strict=True):
        ok = isinstance(result, dict)
        failures += not ok
        detail = (
            f"max_model_len={result['max_model_len']} tp={result['tp']} pp={result['pp']} "
            f"dp={result['dp']} rope={result['rope'].get('rope_type')}"
            if ok
            else result
        )
        print(f"  {'ok ' if ok else 'BAD'} {label}: {detail}")
        if not ok:
            print(f"      vllm serve {shlex.join(argv)}")
    for (label, _), result in zip(NEGATIVE, out["negative"], strict=True):
        rejected = not isinstance(result, dict)
        failures += not rejected
        print(f"  {'ok ' if rejected else 'BAD'} rejected as expected: {label}: {result}")
    for name, registered in out["parsers"].items():
        expected = name == "hermes"
        failures += registered != expected
        state = "registered" if registered else "not registered"
        print(f"  {'ok ' if registered == expected else 'BAD'} tool parser {name!r} {state}")
    print(f"{len(cases)} command lines, {len(NEGATIVE)} negative controls: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
