"""Compose files for a vLLM plan, one per node, with Open WebUI on the head, and the run order.

Pure: `deployment(plan)` returns the files as data and text (rendered with `_common.yamlfile`,
so every value is quoted where YAML would misread it) and the commands in the order they
must run. Open WebUI reaches vLLM through its OpenAI connection (`OPENAI_API_BASE_URLS`,
`OPENAI_API_KEYS`, read on its first start only, like `OLLAMA_BASE_URL`); both services read
the API key from the env file, which no compose file and no command line contains.

Three shapes: one node (the vLLM container with its GPUs on a compose network with Open
WebUI); several nodes as data-parallel replicas (vLLM on the host network of every node, the
head's API server balancing over the headless workers' engines); several nodes as one copy
split through Ray (a Ray head that waits for every worker's GPUs, then starts `vllm serve`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from .._common.yamlfile import dump_yaml
from ..webui.compose import HOST_GATEWAY, OPEN_WEBUI_IMAGE, WEBUI_DATA
from .command import RAY_PORT, serve_argv
from .plan import VllmPlan

#: The image whose `vllm serve` parser the flags were checked against.
VLLM_IMAGE = "vllm/vllm-openai:v0.34.0"
ENV_FILE = "vllm.env"
HF_CACHE = "/root/.cache/huggingface"
WEBUI_PORT = 3000
SINGLE_FILE = "compose.yaml"
HEAD_FILE = "head.compose.yaml"


@dataclass(frozen=True)
class ComposeFile:
    """One node's compose file: where it runs, its data, and its text."""

    name: str
    node: str  # "this node", "head (10.0.0.1)", "worker 1"
    config: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Deployment:
    """Everything `qwenkit deploy vllm` writes, plus what to run, in order."""

    files: list[ComposeFile]
    steps: list[str]
    notes: list[str] = field(default_factory=list)
    env_file: str = ENV_FILE

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {f.name: {"node": f.node, "compose": f.config} for f in self.files},
            "env_file": self.env_file,
            "steps": self.steps,
            "notes": self.notes,
        }


def deployment(plan: VllmPlan, *, webui_port: int = WEBUI_PORT) -> Deployment:
    """The compose files and the ordered commands for `plan`."""
    topo = plan.topology
    if topo.nodes == 1:
        return _single_node(plan, webui_port)
    if topo.kind == "pipeline":
        return _ray_cluster(plan, webui_port)
    return _replica_nodes(plan, webui_port)


# -- services -------------------------------------------------------------------------


def _gpus(count: int) -> dict[str, Any]:
    device = {"driver": "nvidia", "count": count, "capabilities": ["gpu"]}
    return {"resources": {"reservations": {"devices": [device]}}}


def _vllm_service(plan: VllmPlan, *, host_network: bool, key: bool = True) -> dict[str, Any]:
    """The vLLM container: every GPU of the node, shared memory for NCCL, the HF cache."""
    service: dict[str, Any] = {"image": VLLM_IMAGE}
    if key:
        service["env_file"] = [ENV_FILE]
    if host_network:
        service["network_mode"] = "host"
    else:
        service["ports"] = [f"{plan.port}:{plan.port}"]
    service["ipc"] = "host"  # NCCL and vLLM's workers share memory through /dev/shm
    service["volumes"] = [f"hf-cache:{HF_CACHE}"]
    service["deploy"] = _gpus(plan.topology.gpus_per_node)
    service["restart"] = "unless-stopped"
    return service


def _webui_service(plan: VllmPlan, port: int, *, vllm_url: str) -> dict[str, Any]:
    service: dict[str, Any] = {
        "image": OPEN_WEBUI_IMAGE,
        "ports": [f"{port}:8080"],
        "env_file": [ENV_FILE],  # OPENAI_API_KEYS
        "environment": {
            "OPENAI_API_BASE_URLS": vllm_url,
            "ENABLE_OLLAMA_API": "False",
            "DEFAULT_MODELS": plan.served_name,
        },
        "volumes": [f"open-webui:{WEBUI_DATA}"],
        "restart": "unless-stopped",
    }
    if "host.docker.internal" in vllm_url:
        service["extra_hosts"] = [HOST_GATEWAY]
    return service


def _file(name: str, node: str, config: dict[str, Any], header: list[str]) -> ComposeFile:
    return ComposeFile(name, node, config, dump_yaml(config, header))


def _key_note() -> str:
    return (
        f"the API key is in {ENV_FILE} (mode 0600): vLLM reads VLLM_API_KEY, Open WebUI "
        "OPENAI_API_KEYS; clients send it as `Authorization: Bearer <key>`"
    )


def _common_notes(plan: VllmPlan) -> list[str]:
    return [
        _key_note(),
        "vLLM's key guards /v1 but not every route (/invocations, /metrics stay open): publish "
        f"port {plan.port} to a trusted network only, or put a TLS proxy in front",
        "OPENAI_API_BASE_URLS is read on Open WebUI's first start only, then kept in its "
        "volume: change it later under Admin Settings > Connections",
        f"the first start downloads {plan.model} into the hf-cache volume of every node that "
        "loads weights, then loads and profiles: allow several minutes before the API answers",
    ]


def _check_command(plan: VllmPlan, host: str) -> str:
    key = f"$(sed -n 's/^VLLM_API_KEY=//p' {ENV_FILE})"
    return (
        f'curl -s -H "Authorization: Bearer {key}" http://{host}:{plan.port}/v1/models'
        "   # lists the served name; the key is read from the file, never typed"
    )


# -- shapes -----------------------------------------------------------------------------


def _single_node(plan: VllmPlan, webui_port: int) -> Deployment:
    config = {
        "services": {
            "vllm": {**_vllm_service(plan, host_network=False), "command": serve_argv(plan)},
            "open-webui": {
                **_webui_service(plan, webui_port, vllm_url=f"http://vllm:{plan.port}/v1"),
                "depends_on": ["vllm"],
            },
        },
        "volumes": {"hf-cache": {}, "open-webui": {}},
    }
    header = [
        f"vLLM serving {plan.model} as {plan.served_name!r}, and Open WebUI; "
        "written by `qwenkit deploy vllm`.",
        f"Start: docker compose -f {SINGLE_FILE} up -d   (needs the NVIDIA Container Toolkit)",
        f"API: http://localhost:{plan.port}/v1 (key in {ENV_FILE}); UI: http://localhost:{webui_port}",
    ]
    steps = [
        f"docker compose -f {SINGLE_FILE} up -d",
        f"docker compose -f {SINGLE_FILE} logs -f vllm   # until 'Application startup complete'",
        _check_command(plan, "localhost"),
        f"open http://localhost:{webui_port}",
    ]
    return Deployment([_file(SINGLE_FILE, "this node", config, header)], steps, _common_notes(plan))


def _worker_name(k: int) -> str:
    return f"worker-{k}.compose.yaml"


def _head_file(
    plan: VllmPlan, webui_port: int, vllm: dict[str, Any], header: list[str]
) -> ComposeFile:
    """The head node's file: vLLM on the host network, and Open WebUI reaching it through the
    Docker gateway."""
    url = f"http://host.docker.internal:{plan.port}/v1"
    config = {
        "services": {"vllm": vllm, "open-webui": _webui_service(plan, webui_port, vllm_url=url)},
        "volumes": {"hf-cache": {}, "open-webui": {}},
    }
    return _file(HEAD_FILE, f"head ({plan.head_address})", config, header)


def _replica_nodes(plan: VllmPlan, webui_port: int) -> Deployment:
    topo, head = plan.topology, str(plan.head_address)
    vllm = {**_vllm_service(plan, host_network=True), "command": serve_argv(plan)}
    header = [
        f"Node 0 (head, {head}) of {topo.nodes}: vLLM's API server and "
        f"{topo.replicas_per_node} replica(s), and Open WebUI.",
        f"Start it first: docker compose -f {HEAD_FILE} up -d",
    ]
    files = [_head_file(plan, webui_port, vllm, header)]
    for k in range(1, topo.nodes):
        service = _vllm_service(plan, host_network=True, key=False)
        config = {
            "services": {"vllm": {**service, "command": serve_argv(plan, worker=k)}},
            "volumes": {"hf-cache": {}},
        }
        header = [
            f"Node {k} of {topo.nodes}: {topo.replicas_per_node} headless replica(s); the head "
            f"({head}) serves the API.",
            f"Start after the head: docker compose -f {_worker_name(k)} up -d",
        ]
        files.append(_file(_worker_name(k), f"worker {k}", config, header))
    steps = [
        f"copy {_worker_name(1)}"
        + (f" … {_worker_name(topo.nodes - 1)}" if topo.nodes > 2 else "")
        + " to the worker nodes (Docker and the NVIDIA Container Toolkit on every node)",
        f"on the head ({head}): docker compose -f {HEAD_FILE} up -d",
        *(
            f"on worker {k}: docker compose -f {_worker_name(k)} up -d"
            for k in range(1, topo.nodes)
        ),
        f"on the head: docker compose -f {HEAD_FILE} logs -f vllm   # until every engine is up",
        _check_command(plan, head),
        f"open http://{head}:{webui_port}",
    ]
    notes = [
        *_common_notes(plan),
        f"the nodes must reach {head}:{13345} and each other on the ports vLLM's data-parallel "
        "engines open (host network); keep them on a private network",
    ]
    return Deployment(files, steps, notes)


def _ray_wait(total_gpus: int) -> str:
    """A shell loop that waits until the Ray cluster has every GPU of every node."""
    probe = (
        'import ray, sys; ray.init(address="auto", logging_level="ERROR"); '
        f'sys.exit(ray.cluster_resources().get("GPU", 0) < {total_gpus})'
    )
    return (
        f"until python3 -c {shlex.quote(probe)}; do "
        f"echo 'waiting for {total_gpus} GPUs in the Ray cluster'; sleep 5; done"
    )


#: Ray is not a dependency of vllm 0.34, so the image may lack it: install it on first start.
ENSURE_RAY = 'python3 -c "import ray" 2>/dev/null || python3 -m pip install --quiet ray'


def _ray_cluster(plan: VllmPlan, webui_port: int) -> Deployment:
    topo, head = plan.topology, str(plan.head_address)
    total = topo.nodes * topo.gpus_per_node
    script = " && ".join(
        [
            f"({ENSURE_RAY})",
            f"ray start --head --port={RAY_PORT} --node-ip-address={head}",
            _ray_wait(total),
            shlex.join(["exec", "vllm", "serve", *serve_argv(plan)]),
        ]
    )
    vllm = {
        **_vllm_service(plan, host_network=True),
        "entrypoint": ["/bin/bash", "-c"],
        "command": [script.replace("$", "$$")],
        "environment": {"VLLM_HOST_IP": head},
    }
    header = [
        f"Node 0 (Ray head, {head}) of {topo.nodes}: pipeline stage 0, vLLM's API server, "
        "and Open WebUI.",
        f"vLLM starts once all {total} GPUs have joined the Ray cluster.",
    ]
    files = [_head_file(plan, webui_port, vllm, header)]
    worker_script = (
        f"({ENSURE_RAY}) && "
        f"exec ray start --address={head}:{RAY_PORT} --node-ip-address=${{NODE_IP}} --block"
    )
    for k in range(1, topo.nodes):
        worker = {
            **_vllm_service(plan, host_network=True, key=False),
            "entrypoint": ["/bin/bash", "-c"],
            "command": [worker_script],
            "environment": {"VLLM_HOST_IP": "${NODE_IP:?set NODE_IP to this node's address}"},
        }
        config = {"services": {"ray-worker": worker}, "volumes": {"hf-cache": {}}}
        header = [
            f"Node {k} of {topo.nodes}: a Ray worker holding pipeline stage {k}.",
            f"Start: NODE_IP=<this node's address> docker compose -f {_worker_name(k)} up -d",
        ]
        files.append(_file(_worker_name(k), f"worker {k}", config, header))
    steps = [
        "copy the worker-N.compose.yaml files to the worker nodes (Docker and the NVIDIA "
        "Container Toolkit on every node)",
        f"on the head ({head}): docker compose -f {HEAD_FILE} up -d",
        *(
            f"on worker {k}: NODE_IP=<its address> docker compose -f {_worker_name(k)} up -d"
            for k in range(1, topo.nodes)
        ),
        f"on the head: docker compose -f {HEAD_FILE} exec vllm ray status   # {total} GPUs",
        f"on the head: docker compose -f {HEAD_FILE} logs -f vllm   # until the API is up",
        _check_command(plan, head),
        f"open http://{head}:{webui_port}",
    ]
    notes = [
        *_common_notes(plan),
        f"Ray needs {head}:{RAY_PORT} and its worker ports open between the nodes, and NCCL a "
        "fast link; set NCCL_SOCKET_IFNAME when the nodes have several interfaces",
        "Ray is not a dependency of vllm 0.34: the Ray containers install it on their first "
        "start when the image lacks it (or build an image with `pip install ray`)",
    ]
    return Deployment(files, steps, notes)
