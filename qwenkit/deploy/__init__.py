"""Past one machine: serve the same model with vLLM, planned from the same hardware probe.

`plan_vllm(profile, ...)` (pure) chooses the checkpoint, context, parallelism and memory
settings and says how many sequences fit; `serve_argv` turns a plan into the exact
`vllm serve` arguments; `deployment` renders compose files per node (with Open WebUI wired
to vLLM's OpenAI API) and the commands to run them in order; `write_deployment` is the only
function here that touches the disk.
"""

from __future__ import annotations

from .command import every_argv, serve_argv
from .compose import ComposeFile, Deployment, deployment
from .files import read_api_key, write_deployment
from .plan import Topology, VllmPlan, plan_vllm, yarn_overrides

__all__ = [
    "ComposeFile",
    "Deployment",
    "Topology",
    "VllmPlan",
    "deployment",
    "every_argv",
    "plan_vllm",
    "read_api_key",
    "serve_argv",
    "write_deployment",
    "yarn_overrides",
]
