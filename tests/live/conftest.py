"""The live suite: tests against a real Ollama, opt-in.

    QWENKIT_LIVE_OLLAMA=http://127.0.0.1:11800 pytest -m live

Tests marked `live` are skipped unless QWENKIT_LIVE_OLLAMA names a running Ollama on loopback
(the default `pytest` deselects them). The server should be one of your own, started with an
empty OLLAMA_MODELS: the session writes tiny random-weight GGUFs (`tiny_gguf.py`), uploads
them and creates the models below once, including `qwen2.5:7b-instruct-q4_K_M` so that
`qwenkit setup` finds its base tag and pulls nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from gguf import LlamaFileType

from qwenkit.catalog import STOP_TOKENS
from qwenkit.variants import QWEN25_TEMPLATE
from tests.live.tiny_gguf import tiny_qwen2

LIVE_ENV = "QWENKIT_LIVE_OLLAMA"
BASE_TAG = "qwen2.5:7b-instruct-q4_K_M"
REAL_MODEL_BYTES = 100 << 20  # the tiny seed weighs about half a megabyte


@dataclass(frozen=True)
class LiveModels:
    """Names of the models the session created, and the GGUF each came from."""

    tiny: str = "qwenkit-live-tiny"  # printable answers, autodetected ChatML: no tools
    cut: str = "qwenkit-live-cut"  # emits invalid UTF-8: every answer is cut
    tools: str = "qwenkit-live-tools"  # Qwen2.5's template: `tools` capability
    yarn: str = "qwenkit-live-yarn"  # context_length 131072 + YaRN
    base: str = BASE_TAG  # the seed `qwenkit setup` builds on
    gguf_dir: Path = Path()


def live_url() -> str | None:
    return os.environ.get(LIVE_ENV) or None


def _require_loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        pytest.exit(f"{LIVE_ENV}={url}: the live suite only talks to loopback", returncode=4)
    return url.rstrip("/")


@pytest.fixture(autouse=True)
def _skip_without_server(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("live") and live_url() is None:
        pytest.skip(f"set {LIVE_ENV}=http://127.0.0.1:PORT to run the live suite")


@pytest.fixture(scope="session")
def live_host() -> str:
    """The real server's URL, checked to be loopback and answering."""
    url = live_url()
    if url is None:
        pytest.skip(f"{LIVE_ENV} is not set")
    url = _require_loopback(url)
    try:
        models = httpx.get(f"{url}/api/tags", timeout=5).raise_for_status().json()["models"]
    except httpx.HTTPError as exc:
        pytest.fail(f"{LIVE_ENV}={url} does not answer: {exc}")
    if any(m["name"] == BASE_TAG and m["size"] > REAL_MODEL_BYTES for m in models):
        pytest.exit(f"{url} holds a real {BASE_TAG}, which the live suite would replace with a "
                    "tiny seed: run it against an Ollama of its own", returncode=4)  # fmt: skip
    return url


@pytest.fixture(scope="session")
def server_version(live_host: str) -> str:
    return str(httpx.get(f"{live_host}/api/version", timeout=5).json()["version"])


def upload(host: str, path: Path) -> str:
    """POST the file as a blob (raw httpx, so fixtures never depend on the code under test).

    Hashed and sent in chunks: the calibration GGUF is 4.7 GB."""
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            sha.update(chunk)
    digest = f"sha256:{sha.hexdigest()}"
    with path.open("rb") as fh:
        httpx.post(f"{host}/api/blobs/{digest}", content=fh, timeout=600).raise_for_status()
    return digest


def create_from_request(host: str, body: dict[str, Any]) -> None:
    # a 4.7 GB GGUF takes Ollama ~50 s to validate and rewrite
    answer = httpx.post(f"{host}/api/create", json={**body, "stream": False}, timeout=600)
    assert answer.status_code == 200, f"creating {body['model']}: {answer.text}"


def create(host: str, model: str, gguf: Path, **fields: Any) -> None:
    create_from_request(host, {"model": model, "files": {gguf.name: upload(host, gguf)}, **fields})


@pytest.fixture(scope="session")
def live_models(live_host: str, tmp_path_factory: pytest.TempPathFactory) -> LiveModels:
    """Writes the tiny GGUFs and creates every model of `LiveModels` on the server."""
    folder = tmp_path_factory.mktemp("tiny-gguf")
    names = LiveModels(gguf_dir=folder)
    qwen = {"template": QWEN25_TEMPLATE, "parameters": {"stop": list(STOP_TOKENS)}}
    create(live_host, names.tiny, tiny_qwen2(folder / "tiny.gguf"))
    create(live_host, names.cut, tiny_qwen2(folder / "cut.gguf", bias="invalid"))
    create(live_host, names.tools, tiny_qwen2(folder / "tiny.gguf"), **qwen)
    long = tiny_qwen2(folder / "yarn.gguf", context_length=131072, yarn=(4.0, 32768))
    create(live_host, names.yarn, long)
    seed = tiny_qwen2(folder / "seed.gguf", file_type=LlamaFileType.MOSTLY_Q4_K_M)
    create(live_host, names.base, seed, **qwen)
    return names


def unload_models(host: str, models: list[str]) -> None:
    for model in models:
        httpx.post(f"{host}/api/generate", json={"model": model, "keep_alive": 0}, timeout=60)


@pytest.fixture
def unload(live_host: str) -> Iterator[list[str]]:
    """A test that reads /api/ps starts with every model unloaded (a CPU server keeps at most
    3 loaded, so others' models would crowd its own out); the models it lists are unloaded
    after it."""
    running = httpx.get(f"{live_host}/api/ps", timeout=30).json()["models"]
    unload_models(live_host, [m["name"] for m in running])
    loaded: list[str] = []
    yield loaded
    unload_models(live_host, loaded)
