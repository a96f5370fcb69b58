"""A YaRN long-context copy of a qwen2 GGUF: new context metadata, every tensor byte kept.

Ollama clamps `num_ctx` to the GGUF's trained context (32768 for qwen2.5) and never turns on
YaRN by itself. Qwen's guidance for long inputs is YaRN with factor 4 over 32768 original
positions, so `extend_context` writes a copy whose metadata says exactly that:

* `qwen2.context_length = original × factor` (131072 for 32768 × 4), in the source's int type;
* `qwen2.rope.scaling.type = "yarn"`, `.factor = factor` (f32),
  `.original_context_length = original` (u32).

Every other key/value pair and the whole tensor-info table are copied as raw bytes, so types,
order and values cannot drift; tensor offsets are relative to the (aligned) data section, so
the tensor data is copied verbatim after a new aligned header.

The header is read and the new pairs are packed with the `gguf` library
(`qwenkit.longctx._gguf_header` says exactly which parts, and why `GGUFReader` needs two of its
helpers replaced to stay within a few MB on a real vocabulary). The data section is streamed
with the kernel's `copy_file_range` (a plain buffered copy where that is unavailable), so
memory stays flat however large the model is.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf import GGUFValueType, Keys, RopeScalingType

from .._common.disk import short_of_space
from .._common.files import atomic_file
from ..errors import GGUFError
from ._gguf_header import INTEGER_TYPES, Header, header_with, pack_pair, read_header

Progress = Callable[[int, int], None]

ARCHITECTURE = "qwen2"
_COPY_CHUNK = 64 << 20
#: errors that mean "this kernel/filesystem cannot copy_file_range", not "the copy failed"
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
)
_CONTEXT_KEY = Keys.LLM.CONTEXT_LENGTH.format(arch=ARCHITECTURE)


@dataclass(frozen=True)
class ContextInfo:
    """What a GGUF says about its context window and RoPE scaling."""

    architecture: str | None
    context_length: int | None
    rope_scaling_type: str | None
    factor: float | None
    original_context: int | None

    @property
    def is_scaled(self) -> bool:
        """True when the file already carries a RoPE scaling other than "none"."""
        return self.rope_scaling_type not in (None, "none") or (
            self.factor is not None and self.factor not in (0.0, 1.0)
        )


def _context_info(header: Header) -> ContextInfo:
    arch = header.value(Keys.General.ARCHITECTURE)
    if not isinstance(arch, str):
        return ContextInfo(None, None, None, None, None)
    factor = header.value(Keys.Rope.SCALING_FACTOR.format(arch=arch))
    scaling = header.value(Keys.Rope.SCALING_TYPE.format(arch=arch))
    return ContextInfo(
        architecture=arch,
        context_length=_int_or_none(header.value(Keys.LLM.CONTEXT_LENGTH.format(arch=arch))),
        rope_scaling_type=scaling if isinstance(scaling, str) else None,
        factor=float(factor) if isinstance(factor, (int, float)) else None,
        original_context=_int_or_none(
            header.value(Keys.Rope.SCALING_ORIG_CTX_LEN.format(arch=arch))
        ),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_context_info(path: str | os.PathLike[str]) -> ContextInfo:
    """Read the architecture, context length and RoPE scaling a GGUF declares (header only)."""
    return _context_info(read_header(Path(path)))


def _validate(header: Header, path: Path) -> ContextInfo:
    """A qwen2 model, not yet RoPE-scaled, with an integer context length to multiply."""
    info = _context_info(header)
    if info.architecture != ARCHITECTURE:
        raise GGUFError(
            f"{path} is not a qwen2 model (architecture {info.architecture or 'missing'})",
            hint="YaRN extension is only set up for Qwen2/Qwen2.5 GGUFs",
        )
    if info.is_scaled:
        raise GGUFError(
            f"{path} is already RoPE-scaled (type {info.rope_scaling_type or 'unset'}, "
            f"factor {info.factor}, context {info.context_length})",
            hint="extend the original, unscaled model file instead",
        )
    field = header.fields.get(_CONTEXT_KEY)
    if field is None or field.vtype not in INTEGER_TYPES or not info.context_length:
        raise GGUFError(f"{path} does not declare an integer qwen2.context_length")
    return info


def _check_factor(factor: float, original: int) -> int:
    """Validate the factor and original context; return the new context length."""
    if isinstance(original, bool) or not isinstance(original, int) or original <= 0:
        raise GGUFError(
            f"original context must be a positive integer, not {original!r}",
            hint="leave it out to use the context the source declares (32768 for Qwen2.5)",
        )
    if not isinstance(factor, (int, float)) or not math.isfinite(factor) or not 1 < factor <= 64:
        raise GGUFError(
            f"invalid YaRN factor {factor!r}",
            hint="use a factor above 1 and at most 64; Qwen recommends 4.0",
        )
    new_ctx = original * float(factor)
    if new_ctx != int(new_ctx) or new_ctx >= 2**32:
        raise GGUFError(
            f"{original} × {factor} = {new_ctx:g} is not a whole context length that fits uint32",
            hint="choose a factor that gives a whole number of positions",
        )
    return int(new_ctx)


def _new_header(header: Header, new_ctx: int, factor: float, original: int) -> bytes:
    """The source header with the four YaRN pairs; the context length keeps its source type."""
    keys = {"arch": ARCHITECTURE}
    pairs: list[tuple[str, GGUFValueType, Any]] = [
        (_CONTEXT_KEY, header.fields[_CONTEXT_KEY].vtype, new_ctx),
        (Keys.Rope.SCALING_TYPE.format(**keys), GGUFValueType.STRING, RopeScalingType.YARN.value),
        (Keys.Rope.SCALING_FACTOR.format(**keys), GGUFValueType.FLOAT32, float(factor)),
        (Keys.Rope.SCALING_ORIG_CTX_LEN.format(**keys), GGUFValueType.UINT32, original),
    ]
    new = {key: pack_pair(header.endian, key, vtype, value) for key, vtype, value in pairs}
    return header_with(header, new, after=_CONTEXT_KEY)


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    try:
        _check_path_pair(src, dst, overwrite)
    except OSError as exc:  # a name too long, a directory without search permission...
        raise GGUFError(
            f"cannot use {exc.filename or dst}: {exc.strerror or exc}",
            hint="give a readable source GGUF and a writable destination path",
        ) from exc


def _check_path_pair(src: Path, dst: Path, overwrite: bool) -> None:
    if not src.is_file():
        raise GGUFError(
            f"{src} does not exist or is not a file",
            hint="give the path of a qwen2 GGUF file (`ollama show --modelfile MODEL` names it)",
        )
    if src.resolve() == dst.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise GGUFError(
            "the destination is the source file", hint="write the extended copy to a new path"
        )
    if dst.exists() and not overwrite:
        raise GGUFError(f"{dst} already exists", hint="pass --force to replace it")


def _check_disk(dst: Path, needed: int) -> None:
    problem = short_of_space(shutil.disk_usage(dst.parent).free, needed, str(dst))
    if problem is not None:
        raise GGUFError(problem, hint="free some space or write the extended file to another disk")


def _copy_range(
    src: Any, dst: Any, offset: int, count: int, progress: Callable[[int], None]
) -> None:
    """Append `count` bytes of `src` from `offset` to `dst`, in kernel space when possible."""
    done = _kernel_copy(src, dst, offset, count, progress) if hasattr(os, "copy_file_range") else 0
    _buffered_copy(src, dst, offset + done, count - done, progress)


def _kernel_copy(
    src: Any, dst: Any, offset: int, count: int, progress: Callable[[int], None]
) -> int:
    """`copy_file_range` until done or the kernel/filesystem declines; returns bytes copied."""
    done = 0
    while done < count:
        want = min(_COPY_CHUNK, count - done)
        try:
            n = os.copy_file_range(src.fileno(), dst.fileno(), want, offset + done)
        except OSError as err:
            if err.errno in _NO_KERNEL_COPY:
                return done
            raise
        done += _advanced(n, progress)
    return done


def _buffered_copy(
    src: Any, dst: Any, offset: int, count: int, progress: Callable[[int], None]
) -> None:
    """The portable path: read into one reused 8 MiB buffer, write it out."""
    buffer = memoryview(bytearray(8 << 20)) if count else memoryview(b"")
    done = 0
    while done < count:
        src.seek(offset + done)
        n = src.readinto(buffer[: min(_COPY_CHUNK, count - done, len(buffer))])
        dst.write(buffer[:n])
        done += _advanced(n, progress)


def _advanced(n: int, progress: Callable[[int], None]) -> int:
    if n <= 0:
        raise GGUFError("the source file shrank while it was being copied")
    progress(n)
    return n


def _write(src: Path, tmp_fh: Any, header_bytes: bytes, header: Header, progress: Progress) -> None:
    """Header, then the source's data section verbatim (`atomic_file` fsyncs and renames)."""
    data_len = header.file_size - header.data_offset
    total = len(header_bytes) + data_len
    done = len(header_bytes)
    tmp_fh.write(header_bytes)
    tmp_fh.flush()
    progress(done, total)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    try:
        with src.open("rb") as src_fh:
            _copy_range(src_fh, tmp_fh, header.data_offset, data_len, advance)
    except OSError as err:
        raise GGUFError(
            f"copying the tensor data of {src} failed: {err.strerror or err}",
            hint="check free space and permissions of the destination folder",
        ) from err


def extend_context(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    factor: float = 4.0,
    original_context: int | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a YaRN-scaled copy of the qwen2 GGUF `src` to `dst` and return `dst`.

    `original_context` defaults to the context length `src` declares. `progress(done, total)`
    is called with bytes written. The copy goes to a hidden temporary file next to `dst`, is
    fsynced and only then renamed into place, so `dst` is never a half-written model (even
    after a power cut); on any error or Ctrl-C the temporary file is removed.
    """
    src_path, dst_path = Path(src), Path(dst)
    _check_paths(src_path, dst_path, overwrite)
    header = read_header(src_path)
    info = _validate(header, src_path)
    original = info.context_length if original_context is None else original_context
    assert original is not None
    header_bytes = _new_header(header, _check_factor(factor, original), factor, original)
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    _check_disk(dst_path, len(header_bytes) + header.file_size - header.data_offset)
    try:
        with atomic_file(dst_path, mode=0o644) as tmp_fh:
            _write(src_path, tmp_fh, header_bytes, header, progress or (lambda _d, _t: None))
    except OSError as err:  # the fsync or the rename; `_write` reports its own failures
        raise GGUFError(
            f"writing {dst_path} failed: {err.strerror or err}",
            hint="check free space and permissions of the destination folder",
        ) from err
    return dst_path


__all__ = ["ContextInfo", "extend_context", "read_context_info"]
