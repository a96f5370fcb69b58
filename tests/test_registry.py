"""Registry manifest and blob download: URL layout, redirects, Range resume, sha256, retries.

Every request is answered by respx; nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from qwenkit._common.retry import RetryPolicy
from qwenkit.longctx.registry import (
    MANIFEST_ACCEPT,
    MEDIA_MODEL,
    DigestMismatchError,
    RegistryError,
    download_blob,
    fetch_manifest,
    normalize_digest,
    parse_name,
)
from tests.durability import fsync_rename_log

REG = "https://registry.test"
CDN = "https://cdn.test/blob"
BLOB = bytes(range(256)) * 4096 + b"tail"  # ~1 MiB, not a multiple of anything
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
BLOB_URL = f"{REG}/v2/library/qwen2.5/blobs/{DIGEST}"
NAME = "qwen2.5:7b-instruct"

MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
               "digest": "sha256:" + "c" * 64, "size": 487},
    "layers": [
        {"mediaType": MEDIA_MODEL, "digest": DIGEST, "size": len(BLOB)},
        {"mediaType": "application/vnd.ollama.image.template",
         "digest": "sha256:" + "e" * 64, "size": 1482},
        {"mediaType": "application/vnd.ollama.image.license",
         "digest": "sha256:" + "b" * 64, "size": 11343, "future_field": 1},
    ],
}  # fmt: skip


class Dropping(httpx.SyncByteStream):
    """A body that sends `data` in pieces and then loses the connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: len(self.data) // 2]
        yield self.data[len(self.data) // 2 :]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


class CDNServer:
    """Serves BLOB with Range support; can drop, fail, ignore Range, or corrupt."""

    def __init__(self, blob: bytes = BLOB) -> None:
        self.blob = blob
        self.ranges: list[str | None] = []
        self.drop_after: list[int] = []  # per request: bytes to send before dropping
        self.fail_statuses: list[int] = []  # per request: HTTP status to answer with
        self.ignore_range = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Range")
        self.ranges.append(header)
        if self.fail_statuses:
            return httpx.Response(self.fail_statuses.pop(0))
        start = int(re.match(r"bytes=(\d+)-", header).group(1)) if header else 0  # type: ignore[union-attr]
        if self.ignore_range:
            start = 0
        body = self.blob[start:]
        status, headers = 200, {"Content-Length": str(len(body))}
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(self.blob) - 1}/{len(self.blob)}"
        if self.drop_after:
            cut = self.drop_after.pop(0)
            return httpx.Response(status, headers=headers, stream=Dropping(body[:cut]))
        return httpx.Response(status, headers=headers, content=body)


@pytest.fixture
def cdn() -> Iterator[CDNServer]:
    server = CDNServer()
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(BLOB_URL).mock(return_value=httpx.Response(307, headers={"Location": CDN}))
        router.get(CDN).mock(side_effect=server)
        yield server


NO_WAIT = RetryPolicy(attempts=7, base_delay=0.0)


def download(dst: Path, **kwargs: object) -> Path:
    opts: dict[str, object] = {"size": len(BLOB), "registry": REG, "policy": NO_WAIT}
    opts.update(kwargs)
    return download_blob(NAME, DIGEST, dst, **opts)  # type: ignore[arg-type]


# --- names and manifests --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("qwen2.5", "https://registry.ollama.ai/v2/library/qwen2.5/manifests/latest"),
        ("qwen2.5:7b-instruct-q4_K_M",
         "https://registry.ollama.ai/v2/library/qwen2.5/manifests/7b-instruct-q4_K_M"),
        ("me/tuned:v1", "https://registry.ollama.ai/v2/me/tuned/manifests/v1"),
        ("host.test:5000/ns/m:t", "https://host.test:5000/v2/ns/m/manifests/t"),
    ],
)  # fmt: skip
def test_parse_name_follows_ollama_defaults(name: str, url: str) -> None:
    assert parse_name(name).manifest_url == url


@pytest.mark.parametrize("name", ["", "a//b", "a/b/c/d", "model:", "/x"])
def test_parse_name_rejects_malformed_names(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid model name"):
        parse_name(name)


def test_normalize_digest() -> None:
    hexes = "A" * 64
    assert normalize_digest(f"sha256-{hexes}") == "sha256:" + "a" * 64
    with pytest.raises(RegistryError, match="invalid blob digest"):
        normalize_digest("sha256:1234")


def test_fetch_manifest_sends_the_docker_accept_header(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(f"{REG}/v2/library/qwen2.5/manifests/7b-instruct").mock(
        return_value=httpx.Response(200, json=MANIFEST)
    )
    manifest = fetch_manifest(NAME, registry=REG)
    assert route.calls.last.request.headers["Accept"] == MANIFEST_ACCEPT
    assert route.calls.last.request.headers["User-Agent"].startswith("qwenkit/")
    assert manifest.model_layer.digest == DIGEST and manifest.model_layer.size == len(BLOB)
    assert manifest.layer("application/vnd.ollama.image.template") is not None
    assert manifest.layer("application/vnd.ollama.image.system") is None
    assert manifest.config is not None and manifest.config.size == 487


def test_fetch_manifest_with_a_caller_client(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{REG}/v2/library/qwen2.5/manifests/7b-instruct").mock(
        return_value=httpx.Response(200, json=MANIFEST)
    )
    with httpx.Client() as client:
        assert len(fetch_manifest(NAME, registry=REG, client=client).layers) == 3


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(404, json={"errors": []}), "not in the registry"),
        (httpx.Response(401), "refused access"),
        (httpx.Response(500), "HTTP 500"),
        (httpx.Response(200, text="<html>"), "unreadable manifest"),
        (httpx.Response(200, json={"layers": [{"digest": "x"}]}), "unreadable manifest"),
    ],
)
def test_fetch_manifest_errors(
    respx_mock: respx.MockRouter, response: httpx.Response, match: str
) -> None:
    respx_mock.get(f"{REG}/v2/library/qwen2.5/manifests/7b-instruct").mock(return_value=response)
    with pytest.raises(RegistryError, match=match):
        fetch_manifest(NAME, registry=REG)


def test_fetch_manifest_unreachable(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{REG}/v2/library/qwen2.5/manifests/7b-instruct").mock(
        side_effect=httpx.ConnectError("no route to host")
    )
    with pytest.raises(RegistryError, match="cannot reach") as caught:
        fetch_manifest(NAME, registry=REG)
    assert caught.value.hint


def test_manifest_without_model_layer() -> None:
    from qwenkit.longctx.registry import Manifest

    with pytest.raises(RegistryError, match="no model layer"):
        _ = Manifest.model_validate({"layers": []}).model_layer


# --- blob download --------------------------------------------------------------------------


def test_download_follows_the_redirect_and_verifies(cdn: CDNServer, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = download(tmp_path / "blob", progress=lambda d, t: seen.append((d, t)))
    assert out.read_bytes() == BLOB
    assert cdn.ranges == [None]
    assert seen[-1] == (len(BLOB), len(BLOB))
    assert not (tmp_path / "blob.partial").exists()


def test_the_verified_blob_is_fsynced_before_it_is_renamed(
    cdn: CDNServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash right after the rename must not leave a `dst` whose bytes never hit the disk."""
    log = fsync_rename_log(monkeypatch)
    out = download(tmp_path / "blob")
    assert log == [("fsync", out.stat().st_ino), ("rename", out.stat().st_ino)]


def test_download_resumes_from_a_partial_file(cdn: CDNServer, tmp_path: Path) -> None:
    (tmp_path / "blob.partial").write_bytes(BLOB[:300_000])
    seen: list[int] = []
    out = download(tmp_path / "blob", progress=lambda d, _t: seen.append(d))
    assert out.read_bytes() == BLOB
    assert cdn.ranges == ["bytes=300000-"]
    assert seen[0] == 300_000  # resumed bytes count as done


def test_dropped_connection_is_retried_from_where_it_stopped(
    cdn: CDNServer, tmp_path: Path
) -> None:
    cdn.drop_after = [200_000, 100_000]
    out = download(tmp_path / "blob")
    assert out.read_bytes() == BLOB
    assert cdn.ranges == [None, "bytes=200000-", "bytes=300000-"]


def test_server_errors_are_retried_then_given_up(cdn: CDNServer, tmp_path: Path) -> None:
    cdn.fail_statuses = [503, 502]
    three_tries = RetryPolicy(attempts=3, base_delay=0.0)
    assert download(tmp_path / "blob", policy=three_tries).read_bytes() == BLOB
    cdn.fail_statuses = [503] * 5
    with pytest.raises(RegistryError, match="after 3 attempts") as caught:
        download(tmp_path / "again", policy=three_tries)
    assert cdn.fail_statuses == [503, 503]  # three tries, no more
    assert "resumes" in (caught.value.hint or "")


def test_server_ignoring_range_restarts_cleanly(cdn: CDNServer, tmp_path: Path) -> None:
    (tmp_path / "blob.partial").write_bytes(BLOB[:5000])
    cdn.ignore_range = True
    assert download(tmp_path / "blob").read_bytes() == BLOB


def test_sha256_mismatch_deletes_the_partial(cdn: CDNServer, tmp_path: Path) -> None:
    cdn.blob = BLOB[:-4] + b"TAIL"  # same size, different bytes
    with pytest.raises(DigestMismatchError, match="does not match") as caught:
        download(tmp_path / "blob")
    assert "afresh" in (caught.value.hint or "")
    assert not (tmp_path / "blob").exists() and not (tmp_path / "blob.partial").exists()
    cdn.blob = BLOB
    assert download(tmp_path / "blob").read_bytes() == BLOB


def test_corrupt_partial_is_caught_by_the_hash(cdn: CDNServer, tmp_path: Path) -> None:
    (tmp_path / "blob.partial").write_bytes(b"\0" * 1000)
    with pytest.raises(DigestMismatchError):
        download(tmp_path / "blob")
    assert not (tmp_path / "blob.partial").exists()


def test_oversized_partial_or_body_starts_over(cdn: CDNServer, tmp_path: Path) -> None:
    (tmp_path / "blob.partial").write_bytes(BLOB + b"extra")
    assert download(tmp_path / "blob").read_bytes() == BLOB
    assert cdn.ranges == [None]
    cdn.blob = BLOB + b"more"
    with pytest.raises(RegistryError, match="more than"):
        download(tmp_path / "b2")
    assert not (tmp_path / "b2.partial").exists()


def test_existing_destination_is_not_downloaded_again(cdn: CDNServer, tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(BLOB)
    assert download(tmp_path / "blob").read_bytes() == BLOB
    assert cdn.ranges == []


def test_not_found_blob_is_not_retried(cdn: CDNServer, tmp_path: Path) -> None:
    cdn.fail_statuses = [404]
    with pytest.raises(RegistryError, match="HTTP 404"):
        download(tmp_path / "blob")
    assert len(cdn.ranges) == 1


def test_refuses_when_the_disk_is_too_small(
    cdn: CDNServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setattr(
        shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10)
    )
    with pytest.raises(RegistryError, match="not enough free disk"):
        download(tmp_path / "blob")
    assert cdn.ranges == []


def test_manifest_json_round_trip_keeps_unknown_fields() -> None:
    from qwenkit.longctx.registry import Manifest

    manifest = Manifest.model_validate_json(json.dumps(MANIFEST))
    dumped = manifest.model_dump(by_alias=True, exclude_none=True)
    assert dumped["layers"][2]["future_field"] == 1
    assert dumped["layers"][0]["mediaType"] == MEDIA_MODEL
