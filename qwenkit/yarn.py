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

The header is walked with the `gguf` library's own format constants rather than
`gguf.GGUFReader`: the reader builds one numpy view per array element, which for the
152k-token Qwen vocabulary costs ~540 MB and ~7 s before a byte is copied. Walking the
header with `struct` keeps the whole rewrite in a few MB and streams the data with the kernel's
`copy_file_range` (plain buffered copy where that is unavailable).
"""

from __future__ import annotations

import errno
import functools
import math
import mmap
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf import GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGMLQuantizationType, GGUFValueType
from gguf.constants import GGML_QUANT_SIZES

from .errors import GGUFError

Progress = Callable[[int, int], None]

ARCHITECTURE = "qwen2"
DISK_MARGIN = 64 << 20  # bytes kept free beyond the new file
_COPY_CHUNK = 64 << 20
#: errors that mean "this kernel/filesystem cannot copy_file_range", not "the copy failed"
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
)

_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
    GGUFValueType.BOOL: "?",
}
_INTEGERS = frozenset(
    {
        GGUFValueType.UINT8,
        GGUFValueType.INT8,
        GGUFValueType.UINT16,
        GGUFValueType.INT16,
        GGUFValueType.UINT32,
        GGUFValueType.INT32,
        GGUFValueType.UINT64,
        GGUFValueType.INT64,
    }
)


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


@dataclass(frozen=True)
class _Field:
    key: str
    vtype: GGUFValueType
    start: int  # offset of the key's length prefix
    end: int  # one past the value's last byte
    value: Any  # scalar or string value; None for arrays


@dataclass(frozen=True)
class _Header:
    endian: str  # struct prefix, "<" or ">"
    fields: dict[str, _Field]
    tensor_count: int
    tensor_info: tuple[int, int]  # byte span of the tensor-info table
    alignment: int
    data_offset: int  # aligned start of the tensor data
    data_end: int  # one past the last tensor byte the header promises
    file_size: int

    def value(self, key: str) -> Any:
        field = self.fields.get(key)
        return None if field is None else field.value


@functools.cache
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


class _Cursor:
    """Reads little/big-endian GGUF primitives from a buffer; running off the end is an error."""

    def __init__(self, buf: Any, endian: str, path: Path) -> None:
        self.buf, self.endian, self.path, self.pos = buf, endian, path, 0

    def take(self, fmt: str) -> Any:
        unpacker = _struct(self.endian + fmt)
        self.need(unpacker.size)
        (value,) = unpacker.unpack_from(self.buf, self.pos)
        self.pos += unpacker.size
        return value

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError(
                f"{self.path} is truncated: its header ends before byte {self.pos + n:,}",
                hint="the file is incomplete or damaged; download or copy it again",
            )

    def string(self) -> str:
        n = self.take("Q")
        self.need(n)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GGUFError(f"{self.path} has a header string that is not UTF-8") from None

    def value(self, vtype: GGUFValueType) -> Any:
        """Return a scalar or string; skip an array (returning None) without materialising it."""
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == GGUFValueType.STRING:
            return self.string()
        item_type, count = self.value_type(), self.take("Q")
        if item_type in _SCALARS:
            size = struct.calcsize(_SCALARS[item_type]) * count
            self.need(size)
            self.pos += size
        elif item_type == GGUFValueType.STRING:
            self.skip_strings(count)
        else:
            for _ in range(count):
                self.value(item_type)
        return None

    def skip_strings(self, count: int) -> None:
        """Step over `count` length-prefixed strings (the vocabulary: hot, so kept tight)."""
        unpack, buf, pos = struct.Struct(self.endian + "Q").unpack_from, self.buf, self.pos
        limit = len(buf) - 8
        for _ in range(count):
            if pos > limit:
                self.pos = pos
                self.need(8)  # raises: the header is cut inside the array
            pos += 8 + unpack(buf, pos)[0]
        self.pos = pos
        self.need(0)  # the last string must end inside the file

    def value_type(self) -> GGUFValueType:
        raw = self.take("I")
        try:
            return GGUFValueType(raw)
        except ValueError:
            raise GGUFError(f"{self.path} has an unknown GGUF value type {raw}") from None


def _scan(path: Path) -> _Header:
    """Read a GGUF header: its fields with their byte spans, and where the tensor data lies."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 24 or fh.read(4) != struct.pack("<I", GGUF_MAGIC):
                raise GGUFError(
                    f"{path} is not a GGUF file", hint="pass the model layer blob of a GGUF model"
                )
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(buf, path, size)
    except OSError as err:
        raise GGUFError(f"cannot read {path}: {err.strerror or err}") from err


def _parse(buf: Any, path: Path, size: int) -> _Header:
    (version,) = struct.unpack_from("<I", buf, 4)
    endian = "<" if version & 0xFFFF else ">"
    cur = _Cursor(buf, endian, path)
    cur.pos = 4
    version = cur.take("I")
    if version not in (2, 3):
        raise GGUFError(f"{path} is GGUF version {version}; only versions 2 and 3 are supported")
    tensor_count, kv_count = cur.take("Q"), cur.take("Q")
    fields: dict[str, _Field] = {}
    for _ in range(kv_count):
        start = cur.pos
        key, vtype = cur.string(), cur.value_type()
        value = cur.value(vtype)
        if key in fields:
            raise GGUFError(f"{path} declares the key {key!r} twice; the file is damaged")
        fields[key] = _Field(key, vtype, start, cur.pos, value)
    info_start = cur.pos
    data_size = max((_tensor_end(cur) for _ in range(tensor_count)), default=0)
    alignment = fields["general.alignment"].value if "general.alignment" in fields else None
    alignment = alignment or GGUF_DEFAULT_ALIGNMENT
    if not isinstance(alignment, int) or alignment & (alignment - 1):
        raise GGUFError(f"{path} declares an invalid alignment {alignment!r}")
    data_offset = _align(cur.pos, alignment)
    return _Header(
        endian,
        fields,
        tensor_count,
        (info_start, cur.pos),
        alignment,
        data_offset,
        data_offset + data_size,
        size,
    )


def _tensor_end(cur: _Cursor) -> int:
    """Walk one tensor-info entry; return where its data ends, relative to the data section."""
    cur.string()
    n_dims = cur.take("I")
    if n_dims > 8:
        raise GGUFError(f"{cur.path} has a tensor with {n_dims} dimensions; the file is damaged")
    elements = math.prod(cur.take("Q") for _ in range(n_dims))
    raw_type = cur.take("I")
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(raw_type)]
    except (ValueError, KeyError):
        raise GGUFError(f"{cur.path} has a tensor of unknown type {raw_type}") from None
    offset: int = cur.take("Q")
    return int(offset + elements * type_size // block)


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _context_info(header: _Header) -> ContextInfo:
    arch = header.value("general.architecture")
    prefix = f"{arch}." if isinstance(arch, str) else "\0"
    factor = header.value(prefix + "rope.scaling.factor")
    return ContextInfo(
        architecture=arch if isinstance(arch, str) else None,
        context_length=_int_or_none(header.value(prefix + "context_length")),
        rope_scaling_type=header.value(prefix + "rope.scaling.type"),
        factor=float(factor) if isinstance(factor, (int, float)) else None,
        original_context=_int_or_none(
            header.value(prefix + "rope.scaling.original_context_length")
        ),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_context_info(path: str | os.PathLike[str]) -> ContextInfo:
    """Read the architecture, context length and RoPE scaling a GGUF declares (header only)."""
    return _context_info(_scan(Path(path)))


def _validate(header: _Header, path: Path) -> ContextInfo:
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
    field = header.fields.get(f"{ARCHITECTURE}.context_length")
    if field is None or field.vtype not in _INTEGERS or not info.context_length:
        raise GGUFError(f"{path} does not declare an integer qwen2.context_length")
    if header.file_size < header.data_end:
        raise GGUFError(
            f"{path} is truncated: {header.file_size:,} bytes, but its tensors need "
            f"{header.data_end:,}",
            hint="the download or copy was cut short; fetch the file again",
        )
    return info


def _check_factor(factor: float, original: int) -> int:
    """Validate the factor and original context; return the new context length."""
    if isinstance(original, bool) or not isinstance(original, int) or original <= 0:
        raise GGUFError(f"original context must be a positive integer, not {original!r}")
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


def _pack(endian: str, key: str, vtype: GGUFValueType, value: Any) -> bytes:
    """Serialise one key/value pair in the GGUF wire format."""
    name = key.encode("utf-8")
    out = struct.pack(f"{endian}Q", len(name)) + name + struct.pack(f"{endian}I", vtype)
    if vtype == GGUFValueType.STRING:
        text = str(value).encode("utf-8")
        return out + struct.pack(f"{endian}Q", len(text)) + text
    return out + struct.pack(endian + _SCALARS[vtype], value)


def _new_fields(header: _Header, new_ctx: int, factor: float, original: int) -> dict[str, bytes]:
    """The four rewritten pairs, keyed by name; the context length keeps its source type."""
    p, e = f"{ARCHITECTURE}.", header.endian
    ctx_type = header.fields[p + "context_length"].vtype
    return {
        p + "context_length": _pack(e, p + "context_length", ctx_type, new_ctx),
        p + "rope.scaling.type": _pack(e, p + "rope.scaling.type", GGUFValueType.STRING, "yarn"),
        p + "rope.scaling.factor": _pack(
            e, p + "rope.scaling.factor", GGUFValueType.FLOAT32, float(factor)
        ),
        p + "rope.scaling.original_context_length": _pack(
            e, p + "rope.scaling.original_context_length", GGUFValueType.UINT32, original
        ),
    }


def _header_parts(buf: Any, header: _Header, new: dict[str, bytes]) -> Iterator[bytes]:
    """The new header, piece by piece: preamble, fields (raw or rewritten), tensor infos, pad.

    Keys that did not exist before are inserted right after `qwen2.context_length`.
    """
    missing = [key for key in new if key not in header.fields]
    yield bytes(buf[0:16])  # magic, version, tensor count
    yield struct.pack(f"{header.endian}Q", len(header.fields) + len(missing))
    length = 24
    for key, field in header.fields.items():
        piece = new.get(key, bytes(buf[field.start : field.end]))
        if key == f"{ARCHITECTURE}.context_length":
            piece += b"".join(new[k] for k in missing)
        length += len(piece)
        yield piece
    start, end = header.tensor_info
    length += end - start
    yield bytes(buf[start:end])
    yield b"\0" * (_align(length, header.alignment) - length)


def _build_header(path: Path, header: _Header, new: dict[str, bytes]) -> bytes:
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return b"".join(_header_parts(buf, header, new))


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if not src.is_file():
        raise GGUFError(f"{src} does not exist or is not a file")
    if src.resolve() == dst.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise GGUFError(
            "the destination is the source file", hint="write the extended copy to a new path"
        )
    if dst.exists() and not overwrite:
        raise GGUFError(f"{dst} already exists", hint="pass --force to replace it")


def _check_disk(dst: Path, needed: int) -> None:
    free = shutil.disk_usage(dst.parent).free
    if free < needed + DISK_MARGIN:
        raise GGUFError(
            f"not enough free disk in {dst.parent}: need {needed / 2**30:.1f} GiB "
            f"(+ {DISK_MARGIN >> 20} MiB margin), have {free / 2**30:.1f} GiB",
            hint="free some space or write the extended file to another disk",
        )


def _copy_range(
    src: Any, dst: Any, offset: int, count: int, progress: Callable[[int], None]
) -> None:
    """Append `count` bytes of `src` from `offset` to `dst`, in kernel space when possible."""
    done = 0
    use_kernel = hasattr(os, "copy_file_range")
    buffer = bytearray(0 if use_kernel else 8 << 20)
    while done < count:
        want = min(_COPY_CHUNK, count - done)
        if use_kernel:
            try:
                n = os.copy_file_range(src.fileno(), dst.fileno(), want, offset + done)
            except OSError as err:
                if err.errno not in _NO_KERNEL_COPY:
                    raise
                use_kernel, buffer = False, bytearray(8 << 20)
                continue
        else:
            src.seek(offset + done)
            n = src.readinto(memoryview(buffer)[: min(want, len(buffer))])
            dst.write(memoryview(buffer)[:n])
        if n <= 0:
            raise GGUFError("the source file shrank while it was being copied")
        done += n
        progress(n)


def _write(
    src: Path, tmp_fh: Any, header_bytes: bytes, header: _Header, progress: Progress
) -> None:
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
    is called with bytes written. The copy goes to a hidden temporary file next to `dst` and is
    renamed into place only when complete; on any error or Ctrl-C it is removed.
    """
    src_path, dst_path = Path(src), Path(dst)
    _check_paths(src_path, dst_path, overwrite)
    header = _scan(src_path)
    info = _validate(header, src_path)
    original = info.context_length if original_context is None else original_context
    assert original is not None
    new_ctx = _check_factor(factor, original)
    header_bytes = _build_header(src_path, header, _new_fields(header, new_ctx, factor, original))
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    _check_disk(dst_path, len(header_bytes) + header.file_size - header.data_offset)
    fd, tmp = tempfile.mkstemp(dir=dst_path.parent, prefix=f".{dst_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp_fh:
            _write(src_path, tmp_fh, header_bytes, header, progress or (lambda _d, _t: None))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst_path


__all__ = ["ContextInfo", "extend_context", "read_context_info"]
