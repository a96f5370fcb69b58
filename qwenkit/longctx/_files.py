"""The long pipeline's files: the base model's blob here, the extended copy's sidecar note.

Ollama stores a model layer as `blobs/sha256-<hex>` and `/api/show` names it in its `FROM`
line, so whether the base GGUF is readable from here is a question about paths only. The
extended copy gets a sidecar `<file>.json` saying which base it came from and which blob
digest the server stored it under, so a rerun can skip the slow steps with certainty.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .._common.files import atomic_file
from .yarn import read_context_info

_FROM_BLOB = re.compile(r"^FROM\s+(\S*sha256-([0-9a-fA-F]{64}))\s*$", re.MULTILINE)


def blob_digest(show_modelfile: str | None) -> str | None:
    """`sha256:<hex>` of the model layer named by `/api/show`'s `FROM` line, if any.

    >>> blob_digest("# header\\nFROM /m/blobs/sha256-" + "ab" * 32 + "\\nTEMPLATE x")[:13]
    'sha256:ababab'
    """
    match = _FROM_BLOB.search(show_modelfile or "")
    return f"sha256:{match.group(2).lower()}" if match else None


def locate_local_gguf(
    show_modelfile: str | None, *, models_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The base model's GGUF on this machine, or None when it is not readable here.

    Looks at the server's own path from the `FROM` line first, then at the same blob name in
    `models_dir`, `$OLLAMA_MODELS` and `~/.ollama/models` (a server in a container or
    another user's store shows a path this process may not see). Blobs are named by their
    SHA-256, so a readable file of that name is the right content.
    """
    match = _FROM_BLOB.search(show_modelfile or "")
    if match is None:
        return None
    server_path = Path(match.group(1))
    folders = [models_dir, os.environ.get("OLLAMA_MODELS"), Path.home() / ".ollama" / "models"]
    candidates = [server_path] + [Path(f) / "blobs" / server_path.name for f in folders if f]
    return next((path for path in candidates if _readable_gguf(path)), None)


def _readable_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


@dataclass(frozen=True)
class Sidecar:
    """`<gguf>.json`: which base an extended file came from, its shape, and its blob digest."""

    source_digest: str | None
    size: int
    mtime_ns: int
    context_length: int
    digest: str | None = None

    @staticmethod
    def path_for(gguf: Path) -> Path:
        return gguf.with_name(gguf.name + ".json")

    @classmethod
    def read(cls, gguf: Path) -> Sidecar | None:
        try:
            data = json.loads(cls.path_for(gguf).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None

    @classmethod
    def of(cls, gguf: Path, source_digest: str | None, digest: str | None = None) -> Sidecar:
        stat = gguf.stat()
        ctx = read_context_info(gguf).context_length or 0
        return cls(source_digest, stat.st_size, stat.st_mtime_ns, ctx, digest)

    def write(self, gguf: Path) -> None:
        with atomic_file(self.path_for(gguf), mode=0o644) as fh:  # never a torn record
            fh.write(json.dumps(asdict(self)).encode("utf-8"))

    def describes(self, gguf: Path) -> bool:
        """True when `gguf` is the very file this sidecar was written for."""
        try:
            stat = gguf.stat()
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


__all__ = ["Sidecar", "blob_digest", "locate_local_gguf"]
