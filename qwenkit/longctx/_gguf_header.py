"""A GGUF file's header, read and re-packed with the `gguf` library at a few MB of memory.

What is delegated to `gguf` (0.19): the whole header walk is `gguf.GGUFReader`'s — magic and
version checks, byte-order detection, every key/value pair with its type, duplicate keys, the
tensor-info table, `general.alignment` (type and power of two), the aligned data offset and each
tensor's byte size from `GGML_QUANT_SIZES`. The rewritten pairs are serialised by
`gguf.GGUFWriter` in the source's byte order. What is not: `GGUFReader` keeps one numpy
view per array *element* (per string, two); Qwen's 152k-token vocabulary and 151k merges make
that ~760k views — 526 MB peak RSS and 7-9 s (benchmarks/bench_yarn.py), against a 200 MB
budget. `_CompactReader` therefore overrides two of the reader's internal helpers: an array
becomes one byte view (string arrays are stepped over by their length prefixes, as the format
defines), and every read is bounds-checked, because a numpy slice past the end of a memory map
silently comes back short. Arrays are never decoded (nothing here needs the vocabulary), so
their bytes are copied as is. Those two helpers are private to gguf: the tests run the real
reader through them, so a gguf release that changes them fails loudly, not silently.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUF_MAGIC, GGUFEndian, GGUFReader, GGUFValueType, GGUFWriter

from ..errors import GGUFError

#: value types that hold an integer (bool excluded), from the reader's own type table
INTEGER_TYPES = frozenset(
    vtype
    for vtype, np_type in GGUFReader.gguf_scalar_to_np.items()
    if np.issubdtype(np_type, np.integer)
)
_ARRAY_PREFIX = 12  # item type (u32) + item count (u64)


@dataclass(frozen=True)
class Field:
    """One key/value pair: its type, where its bytes lie, and its value (None for arrays)."""

    key: str
    vtype: GGUFValueType
    start: int  # offset of the key's length prefix
    end: int  # one past the value's last byte
    value: Any


@dataclass(frozen=True)
class Header:
    """What a rewrite needs: the pairs, the raw header bytes and where the tensor data starts."""

    endian: GGUFEndian
    fields: dict[str, Field]
    raw: bytes  # preamble, key/value pairs and tensor infos, unpadded
    tensor_info_start: int
    alignment: int
    data_offset: int  # aligned start of the tensor data
    file_size: int

    def value(self, key: str) -> Any:
        field = self.fields.get(key)
        return None if field is None else field.value


class _PastEnd(Exception):
    """A read the header asks for runs past the end of the file."""

    def __init__(self, end: int) -> None:
        super().__init__(end)
        self.end = end


class _CompactReader(GGUFReader):
    """`GGUFReader` with one view per array instead of one per element, and bounds checks."""

    def _get(
        self, offset: int, dtype: Any, count: int = 1, override_order: Any = None
    ) -> np.ndarray[Any, Any]:
        end = offset + np.dtype(dtype).itemsize * int(count)
        if end > self.data.size:
            raise _PastEnd(end)
        return super()._get(offset, dtype, count, override_order)

    def _get_field_parts(
        self, orig_offs: int, raw_type: int
    ) -> tuple[int, list[np.ndarray[Any, Any]], list[int], list[GGUFValueType]]:
        """Arrays as (item type, count, all item bytes); everything else as the library does."""
        if raw_type != GGUFValueType.ARRAY:
            return super()._get_field_parts(orig_offs, raw_type)
        item_raw, count = self._get(orig_offs, np.uint32), self._get(orig_offs + 4, np.uint64)
        item_type = GGUFValueType(int(item_raw[0]))
        if item_type == GGUFValueType.ARRAY:  # nested arrays: rare, let the library walk them
            return super()._get_field_parts(orig_offs, raw_type)
        body = orig_offs + _ARRAY_PREFIX
        if item_type == GGUFValueType.STRING:
            size = self._strings_size(body, int(count[0]))
        else:
            size = np.dtype(self.gguf_scalar_to_np[item_type]).itemsize * int(count[0])
        parts = [item_raw, count, self._get(body, np.uint8, size)]
        return _ARRAY_PREFIX + size, parts, [2], [GGUFValueType.ARRAY, item_type]

    def _strings_size(self, start: int, count: int) -> int:
        """Bytes of `count` length-prefixed strings (the vocabulary: hot, so kept tight)."""
        unpack = struct.Struct(_struct_order(self) + "Q").unpack_from
        buf, pos = self.data.data, start  # the map as a memoryview
        limit = len(buf) - 8
        for _ in range(count):
            if pos > limit:
                raise _PastEnd(pos + 8)
            pos += 8 + unpack(buf, pos)[0]
        return pos - start


def _struct_order(reader: GGUFReader) -> str:
    """The `struct` byte-order prefix of the file ('I': as this host, 'S': swapped)."""
    host_little = sys.byteorder == "little"
    return "<" if host_little == (reader.byte_order == "I") else ">"


def read_header(path: Path) -> Header:
    """Read `path`'s GGUF header; a clear `GGUFError` for anything that is not a sound GGUF."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        raise GGUFError(f"cannot read {path}: {err.strerror or err}") from err
    if len(magic) < 4 or struct.unpack("<I", magic)[0] != GGUF_MAGIC:
        raise GGUFError(
            f"{path} is not a GGUF file", hint="pass the model layer blob of a GGUF model"
        )
    try:
        return _summarise(_CompactReader(path))
    except _PastEnd as err:
        size = path.stat().st_size
        raise GGUFError(
            f"{path} is truncated: {size:,} bytes, but its header and tensors need at least "
            f"{err.end:,}",
            hint="the file is incomplete or damaged; download or copy it again",
        ) from None
    except OSError as err:
        raise GGUFError(f"cannot read {path}: {err.strerror or err}") from err
    except (ValueError, KeyError, IndexError, OverflowError) as err:
        raise GGUFError(
            f"{path} is a damaged or unsupported GGUF: {err}",
            hint="check the file came from Ollama or llama.cpp intact",
        ) from None


def _summarise(reader: _CompactReader) -> Header:
    """Keep what a rewrite needs from the reader, so its memory map can be released."""
    fields = {
        name: Field(name, f.types[0], f.offset, f.offset + _nbytes(f), _scalar(f))
        for name, f in reader.fields.items()
        if not name.startswith("GGUF.")  # the reader's own entries for the preamble
    }
    info_start = max((f.end for f in fields.values()), default=24)
    info_end = max((t.field.offset + _nbytes(t.field) for t in reader.tensors), default=info_start)
    little = _struct_order(reader) == "<"
    return Header(
        endian=GGUFEndian.LITTLE if little else GGUFEndian.BIG,
        fields=fields,
        raw=reader.data[:info_end].tobytes(),
        tensor_info_start=info_start,
        alignment=int(reader.alignment),
        data_offset=int(reader.data_offset),
        file_size=int(reader.data.size),
    )


def _nbytes(field: Any) -> int:
    return sum(int(part.nbytes) for part in field.parts)


def _scalar(field: Any) -> Any:
    """A scalar's or string's value; None for arrays, which are only ever copied."""
    return None if field.types[0] == GGUFValueType.ARRAY else field.contents()


def pack_pair(endian: GGUFEndian, key: str, vtype: GGUFValueType, value: Any) -> bytes:
    """One key/value pair in GGUF wire format, serialised by `GGUFWriter` (as it writes KVs)."""
    writer = GGUFWriter(None, "", endianess=endian)  # no path: nothing is opened
    name = writer._pack_val(key, GGUFValueType.STRING, add_vtype=False)
    return name + writer._pack_val(value, vtype, add_vtype=True)


def header_with(header: Header, new: dict[str, bytes], after: str) -> bytes:
    """The header with `new` packed pairs: replacing same-named ones, the rest after `after`.

    Untouched pairs and the whole tensor-info table are the source's bytes, so types, order
    and tensor offsets cannot drift; the padding to the data section is recomputed.
    """
    missing = [key for key in new if key not in header.fields]
    raw = header.raw
    order = "<" if header.endian == GGUFEndian.LITTLE else ">"
    count = struct.pack(order + "Q", len(header.fields) + len(missing))
    parts = [raw[0:16], count]  # magic, version, tensor count; then the new pair count
    for key, field in header.fields.items():
        parts.append(new.get(key, raw[field.start : field.end]))
        if key == after:
            parts.extend(new[k] for k in missing)
    parts.append(raw[header.tensor_info_start :])
    length = sum(map(len, parts))
    parts.append(b"\0" * (-length % header.alignment))
    return b"".join(parts)


__all__ = ["INTEGER_TYPES", "Field", "Header", "header_with", "pack_pair", "read_header"]
