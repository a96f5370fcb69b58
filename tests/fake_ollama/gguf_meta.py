"""Read an uploaded blob's GGUF metadata with the `gguf` library, as `/api/create` would."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

GGUF_MAGIC = b"GGUF"


class NotGGUF(ValueError):
    """The blob is not a GGUF file (Ollama: `supplied file was not in GGUF format`)."""


@dataclass
class GGUFInfo:
    """The metadata the fake needs from a GGUF file."""

    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_key(self, suffix: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{suffix}")

    @property
    def context_length(self) -> int | None:
        value = self.arch_key("context_length")
        return int(value) if value is not None else None

    @property
    def parameter_count(self) -> int:
        """Elements in all tensors (what Ollama writes as `general.parameter_count`)."""
        return sum(math.prod(t["shape"]) for t in self.tensors)

    @property
    def chat_template(self) -> str:
        return str(self.metadata.get("tokenizer.chat_template") or "")

    @property
    def file_type(self) -> int | None:
        value = self.metadata.get("general.file_type")
        return int(value) if value is not None else None


def _plain(value: Any) -> Any:
    """numpy scalars and arrays → JSON-friendly Python values."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def read_gguf(data: bytes) -> GGUFInfo:
    """Parse GGUF metadata from raw bytes; raise NotGGUF for anything else."""
    if not data.startswith(GGUF_MAGIC):
        raise NotGGUF("supplied file was not in GGUF format")
    import gguf  # heavy import (numpy): only when a GGUF is really read

    handle, path = tempfile.mkstemp(suffix=".gguf")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            reader = gguf.GGUFReader(path)
        except Exception as exc:  # the library raises assorted errors on corrupt files
            raise NotGGUF(f"supplied file was not in GGUF format: {exc}") from exc
        metadata = {
            name: _plain(item.contents())
            for name, item in reader.fields.items()
            if not name.startswith("GGUF.")
        }
        tensors = [
            {"name": t.name, "type": t.tensor_type.name, "shape": [int(d) for d in t.shape]}
            for t in reader.tensors
        ]
        del reader  # release the memmap before the file is removed
    finally:
        os.unlink(path)
    return GGUFInfo(metadata, tensors)


def model_info(info: GGUFInfo) -> dict[str, Any]:
    """`/api/show` model_info: all keys minus name/chat template; long arrays become []."""
    shown: dict[str, Any] = {}
    for key, value in info.metadata.items():
        if key in ("general.name", "tokenizer.chat_template"):
            continue
        shown[key] = [] if isinstance(value, list) and len(value) > 5 else value
    return shown
