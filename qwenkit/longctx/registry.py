"""Fetching a model's manifest and blobs from the Ollama registry, the way `ollama pull` does.

Used when the Ollama server is not on this machine (or its models folder is unreadable), so
the base GGUF for the YaRN rewrite must come straight from the registry:

* manifest: `GET {registry}/v2/{namespace}/{model}/manifests/{tag}` with
  `Accept: application/vnd.docker.distribution.manifest.v2+json`; public library models need
  no authentication;
* blob: `GET {registry}/v2/{namespace}/{model}/blobs/sha256:<hex>`, which redirects to a CDN;
  resumed with an HTTP `Range` request from a `<dst>.partial` file, retried with back-off on
  dropped connections and 5xx answers, and renamed into place only after its SHA-256 matches
  the digest (a mismatch deletes the partial file: it cannot be repaired by resuming).

Ollama itself splits a blob into up to 16 parallel parts; one sequential stream is enough here
(the CDN serves a single connection at disk speed on most links) and keeps resume simple.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from .._common.disk import short_of_space
from .._common.retry import RetryPolicy
from ..errors import QwenkitError

DEFAULT_REGISTRY = "https://registry.ollama.ai"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"

_DIGEST = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")

Progress = Callable[[int, int], None]


class RegistryError(QwenkitError):
    """The registry refused, could not be reached, or sent something unusable."""


class DigestMismatchError(RegistryError):
    """A downloaded blob's SHA-256 is not the digest it was fetched by."""


class Layer(BaseModel):
    """One manifest entry: a blob and what it is (`mediaType`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    media_type: str = Field(alias="mediaType")
    digest: str
    size: int
    from_: str | None = Field(default=None, alias="from")


class Manifest(BaseModel):
    """A model manifest; tolerant of fields this version does not know."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_version: int = Field(default=2, alias="schemaVersion")
    media_type: str | None = Field(default=None, alias="mediaType")
    config: Layer | None = None
    layers: list[Layer] = Field(default_factory=list)

    def layer(self, media_type: str) -> Layer | None:
        """The first layer of a media type, or None."""
        return next((lay for lay in self.layers if lay.media_type == media_type), None)

    @property
    def model_layer(self) -> Layer:
        """The GGUF weights; every runnable model has exactly one."""
        found = self.layer(MEDIA_MODEL)
        if found is None:
            raise RegistryError("the manifest has no model layer (is this a GGUF model?)")
        return found


@dataclass(frozen=True)
class ModelRef:
    """A model name split the way Ollama splits it, plus the registry it lives on."""

    registry: str
    namespace: str
    model: str
    tag: str

    @property
    def manifest_url(self) -> str:
        return f"{self.registry}/v2/{self.namespace}/{self.model}/manifests/{self.tag}"

    def blob_url(self, digest: str) -> str:
        return f"{self.registry}/v2/{self.namespace}/{self.model}/blobs/{digest}"


def parse_name(name: str, *, registry: str = DEFAULT_REGISTRY) -> ModelRef:
    """Split `[host/][namespace/]model[:tag]` with Ollama's defaults (library, latest).

    >>> parse_name("qwen2.5:7b-instruct").manifest_url
    'https://registry.ollama.ai/v2/library/qwen2.5/manifests/7b-instruct'
    >>> parse_name("example.com/team/m").blob_url("sha256:ab")
    'https://example.com/v2/team/m/blobs/sha256:ab'
    """
    rest, tag = name, "latest"
    if rest.rfind(":") > rest.rfind("/"):
        rest, _, tag = rest.rpartition(":")
    parts = rest.split("/")
    if not all(parts) or len(parts) > 3 or not tag:
        raise RegistryError(f"invalid model name {name!r}")
    if len(parts) == 3:
        host = parts[0]
        registry = host if "://" in host else f"https://{host}"
        parts = parts[1:]
    namespace = parts[0] if len(parts) == 2 else "library"
    return ModelRef(registry.rstrip("/"), namespace, parts[-1], tag)


def normalize_digest(digest: str) -> str:
    """`sha256-<hex>` or `sha256:<hex>` → `sha256:<hex>` (lower case)."""
    match = _DIGEST.match(digest.strip())
    if not match:
        raise RegistryError(f"invalid blob digest {digest!r}", hint="expected sha256:<64 hex>")
    return f"sha256:{match.group(1).lower()}"


@contextmanager
def _http(client: httpx.Client | None) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return

    timeout = httpx.Timeout(30.0, read=60.0)
    headers = {"User-Agent": f"qwenkit/{__version__}"}
    with httpx.Client(timeout=timeout, headers=headers, follow_redirects=True) as own:
        yield own


def fetch_manifest(
    name: str, *, client: httpx.Client | None = None, registry: str = DEFAULT_REGISTRY
) -> Manifest:
    """Download and parse the manifest of `name` (e.g. `qwen2.5:7b-instruct-q4_K_M`)."""
    ref = parse_name(name, registry=registry)
    with _http(client) as http:
        try:
            resp = http.get(
                ref.manifest_url, headers={"Accept": MANIFEST_ACCEPT}, follow_redirects=True
            )
        except httpx.HTTPError as err:
            raise _unreachable(ref.registry, err) from err
    if resp.status_code == 404:
        raise RegistryError(
            f"{name} is not in the registry ({ref.manifest_url} answered 404)",
            hint="check the model name and tag on ollama.com/library",
        )
    _raise_for_status(resp, what=f"the manifest of {name}")
    try:
        return Manifest.model_validate_json(resp.content)
    except ValueError as err:
        raise RegistryError(f"the registry sent an unreadable manifest for {name}") from err


def download_blob(
    name: str,
    digest: str,
    dst: str | Path,
    *,
    size: int,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
    registry: str = DEFAULT_REGISTRY,
    policy: RetryPolicy | None = None,
) -> Path:
    """Download one blob of `name` to `dst`, resuming `dst.partial`, verified by SHA-256.

    A `dst` that already exists with the expected size is taken as done (it was only renamed
    into place after verification). `progress(done, total)` counts resumed bytes as done.
    """
    ref, digest, dst = parse_name(name, registry=registry), normalize_digest(digest), Path(dst)
    report = progress or (lambda _d, _t: None)
    if dst.is_file() and dst.stat().st_size == size:
        report(size, size)
        return dst
    partial = dst.with_name(dst.name + ".partial")
    dst.parent.mkdir(parents=True, exist_ok=True)
    state = _Resume.open(partial, size)
    _check_disk(dst.parent, size - state.done)
    try:
        with _http(client) as http:
            _download(http, ref.blob_url(digest), state, report, policy or RetryPolicy())
    except OSError as err:
        raise RegistryError(f"writing {partial} failed: {err.strerror or err}") from err
    if state.hasher.hexdigest() != digest.removeprefix("sha256:"):
        partial.unlink(missing_ok=True)
        raise DigestMismatchError(
            f"downloaded blob does not match its digest: want {digest}, "
            f"got sha256:{state.hasher.hexdigest()}",
            hint="the partial file was deleted; run the command again to download it afresh",
        )
    _fsync(partial)  # on disk before the rename: `dst` existing means "complete and verified"
    os.replace(partial, dst)  # the syscall itself (Path.replace bypasses a patched os on 3.10)
    return dst


def _fsync(path: Path) -> None:
    try:
        with path.open("r+b") as fh:
            os.fsync(fh.fileno())
    except OSError as err:
        raise RegistryError(f"writing {path} failed: {err.strerror or err}") from err


@dataclass
class _Resume:
    """Where a download stands: the partial file, bytes in it, and their running hash."""

    path: Path
    size: int
    done: int
    hasher: hashlib._Hash

    @classmethod
    def open(cls, path: Path, size: int) -> _Resume:
        state = cls(path, size, 0, hashlib.sha256())
        have = path.stat().st_size if path.is_file() else 0
        if have > size:
            path.unlink()
            return state
        if have:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(8 << 20), b""):
                    state.hasher.update(chunk)
                    state.done += len(chunk)
        return state

    def restart(self) -> None:
        self.path.unlink(missing_ok=True)
        self.done, self.hasher = 0, hashlib.sha256()

    def append(self) -> IO[bytes]:
        return self.path.open("ab" if self.done else "wb")


class _Retry(Exception):
    """A failure worth another attempt (5xx, dropped connection, short body)."""


def _download(
    http: httpx.Client,
    url: str,
    state: _Resume,
    report: Progress,
    policy: RetryPolicy,
) -> None:
    failures = 0
    report(state.done, state.size)
    while state.done < state.size:
        before = state.done
        try:
            _attempt(http, url, state, report)
        except (httpx.TransportError, _Retry) as err:
            failures = policy.failed(failures, progressed=state.done > before)
            if policy.gives_up(failures):
                raise RegistryError(
                    f"download of {url} failed after {failures} attempts: {err}",
                    hint="check the network and run the command again; it resumes",
                ) from err
            time.sleep(policy.delay(failures))


def _attempt(http: httpx.Client, url: str, state: _Resume, report: Progress) -> None:
    """One GET from `state.done` onwards; raises `_Retry` for anything a retry may fix."""
    headers = {"Range": f"bytes={state.done}-"} if state.done else {}
    with http.stream("GET", url, headers=headers, follow_redirects=True) as resp:
        if resp.status_code == 416 and state.done:
            state.restart()  # the server says our partial is longer than its blob
            raise _Retry("range not satisfiable")
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Retry(f"HTTP {resp.status_code}")
        _raise_for_status(resp, what="the blob")
        if state.done and not _resumes_at(resp, state.done):
            state.restart()  # the server ignored the Range header: start over
        too_long = _receive(resp, state, report)
    if too_long:
        state.restart()
        raise RegistryError(f"the registry sent more than the {state.size:,} bytes expected")
    if state.done < state.size:
        raise _Retry(f"connection closed at {state.done:,} of {state.size:,} bytes")


def _receive(resp: httpx.Response, state: _Resume, report: Progress) -> bool:
    """Append the body to the partial file; True if it ran past the expected size."""
    with state.append() as out:
        for chunk in resp.iter_bytes():
            if state.done + len(chunk) > state.size:
                return True
            out.write(chunk)
            state.hasher.update(chunk)
            state.done += len(chunk)
            report(state.done, state.size)
    return False


def _resumes_at(resp: httpx.Response, offset: int) -> bool:
    """True when a 206 answer starts exactly at `offset` (`Content-Range: bytes N-M/T`)."""
    match = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
    return resp.status_code == 206 and match is not None and int(match.group(1)) == offset


def _raise_for_status(resp: httpx.Response, *, what: str) -> None:
    if resp.status_code in (401, 403):
        raise RegistryError(
            f"the registry refused access to {what} (HTTP {resp.status_code})",
            hint="only public models can be downloaded directly; pull private ones with Ollama",
        )
    if resp.status_code >= 400:
        raise RegistryError(f"the registry answered HTTP {resp.status_code} for {what}")


def _unreachable(registry: str, err: Exception) -> RegistryError:
    return RegistryError(
        f"cannot reach the model registry {registry}: {err}",
        hint="check the network (or proxy settings: HTTPS_PROXY) and try again",
    )


def _check_disk(folder: Path, needed: int) -> None:
    problem = short_of_space(shutil.disk_usage(folder).free, needed, f"the download to {folder}")
    if problem is not None:
        raise RegistryError(problem, hint="free some space or choose another work folder")


__all__ = [
    "DEFAULT_REGISTRY",
    "MEDIA_MODEL",
    "DigestMismatchError",
    "Layer",
    "Manifest",
    "ModelRef",
    "RegistryError",
    "download_blob",
    "fetch_manifest",
    "normalize_digest",
    "parse_name",
]
