"""Blobs and local files for `create_blob` and `create_from_modelfile`, shared by both clients.

Hashing and chunked reading of (multi-GB) GGUF files, the HEAD answer that says whether an
upload can be skipped, and the Modelfile job: which local files to upload, then which create
call to send. Only file I/O here; the clients do the HTTP.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..errors import ProtocolError
from ..modelfile import Modelfile
from ..types import ProgressResponse
from ._requests import Call, create_from_request

Progress = Callable[[int, int], None]
PathLike = str | os.PathLike[str]
_CHUNK = 1 << 20


def blob_path(digest: str) -> str:
    return f"/api/blobs/{digest}"


def blob_exists(status: int, digest: str, host: str) -> bool:
    """The answer to `HEAD /api/blobs/<digest>`: 200 there, 404 absent, anything else odd."""
    if status in (200, 404):
        return status == 200
    raise ProtocolError(f"HEAD {blob_path(digest)} answered {status}", host=host)


def file_digest(path: str | os.PathLike[str]) -> str:
    """`sha256:<hex>` of a file, read in 1 MiB chunks."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"


def file_chunks(path: str | os.PathLike[str], progress: Progress | None) -> Iterator[bytes]:
    """The file in 1 MiB chunks, reporting `progress(done, total)` after each."""
    total, done = os.path.getsize(path), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            done += len(chunk)
            yield chunk
            if progress:
                progress(done, total)


async def afile_chunks(
    path: str | os.PathLike[str], progress: Progress | None
) -> AsyncIterator[bytes]:
    """`file_chunks` for the event loop: every read runs in a worker thread (a multi-GB GGUF
    from a slow disk must not stall other tasks)."""
    total, done = (await anyio.Path(path).stat()).st_size, 0
    async with await anyio.open_file(path, "rb") as fh:
        while chunk := await fh.read(_CHUNK):
            done += len(chunk)
            yield chunk
            if progress:
                progress(done, total)


def report_present(path: str | os.PathLike[str], progress: Progress | None) -> None:
    """A blob the server already has counts as fully uploaded."""
    if progress:
        size = os.path.getsize(path)
        progress(size, size)


@dataclass(frozen=True)
class ModelfileJob:
    """`create_from_modelfile`: the local files to upload first, then the create call."""

    model: str
    modelfile: Any  # qwenkit.modelfile.Modelfile
    base: Path | None

    @classmethod
    def of(
        cls, model: str, modelfile: Any, base_dir: str | os.PathLike[str] | None
    ) -> ModelfileJob:
        """From a `Modelfile`, Modelfile text, or a path (whose folder is then the base)."""
        if isinstance(modelfile, os.PathLike):
            path = Path(modelfile)
            return cls.of(model, path.read_bytes(), base_dir or path.parent)
        if isinstance(modelfile, (str, bytes)):
            modelfile = Modelfile.parse(modelfile)
        return cls(model, modelfile, Path(base_dir) if base_dir is not None else None)

    def files(self) -> dict[str, Path]:
        files: dict[str, Path] = self.modelfile.local_files(self.base)
        return files

    def call(self, blobs: Mapping[str, str], stream: bool) -> Call[ProgressResponse]:
        body = self.modelfile.to_create_request(self.model, blobs=blobs, base_dir=self.base)
        return create_from_request(body, stream)  # a 404 here names no model
