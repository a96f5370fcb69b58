"""The YaRN GGUF rewrite: metadata, every tensor byte, refusals that leave nothing behind."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from gguf import GGUFReader, GGUFValueType

from qwenkit.cli import cli
from qwenkit.errors import GGUFError
from qwenkit.longctx import yarn
from qwenkit.longctx._gguf_header import read_header
from qwenkit.longctx.yarn import ContextInfo, extend_context, read_context_info
from tests.durability import fsync_rename_log
from tests.gguf_factory import default_tensors, make_qwen2_gguf, tensor_bytes

SCALING_KEYS = (
    "qwen2.rope.scaling.type",
    "qwen2.rope.scaling.factor",
    "qwen2.rope.scaling.original_context_length",
)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return make_qwen2_gguf(tmp_path / "src" / "base.gguf")


def fields(path: Path) -> dict[str, tuple[list[GGUFValueType], object]]:
    reader = GGUFReader(path)
    return {
        key: (list(field.types), field.contents())
        for key, field in reader.fields.items()
        if not key.startswith("GGUF.")
    }


def listing(*dirs: Path) -> set[str]:
    return {str(p) for d in dirs for p in d.rglob("*")}


def test_extend_rewrites_exactly_the_four_context_keys(base: Path, tmp_path: Path) -> None:
    out = extend_context(base, tmp_path / "long.gguf")
    before, after = fields(base), fields(out)
    assert after["qwen2.context_length"] == ([GGUFValueType.UINT32], 131072)
    assert after["qwen2.rope.scaling.type"] == ([GGUFValueType.STRING], "yarn")
    assert after["qwen2.rope.scaling.factor"] == ([GGUFValueType.FLOAT32], 4.0)
    assert after["qwen2.rope.scaling.original_context_length"] == ([GGUFValueType.UINT32], 32768)
    untouched = {k: v for k, v in after.items() if k not in (*SCALING_KEYS, "qwen2.context_length")}
    assert untouched == {k: v for k, v in before.items() if k != "qwen2.context_length"}
    # source order kept, new keys right after the context length
    keys = list(after)
    at = keys.index("qwen2.context_length")
    assert keys[at + 1 : at + 4] == list(SCALING_KEYS)
    assert [k for k in keys if k not in SCALING_KEYS] == list(before)


def test_every_tensor_is_copied_byte_for_byte(base: Path, tmp_path: Path) -> None:
    out = extend_context(base, tmp_path / "long.gguf")
    src, dst = GGUFReader(base), GGUFReader(out)
    specs = {spec.name: spec for spec in default_tensors()}
    assert [t.name for t in dst.tensors] == [t.name for t in src.tensors] == list(specs)
    for old, new in zip(src.tensors, dst.tensors, strict=True):
        assert new.tensor_type == old.tensor_type
        assert list(new.shape) == list(old.shape)
        assert new.data.tobytes() == tensor_bytes(specs[new.name])  # independent oracle
        assert new.data_offset % dst.alignment == 0
    # the whole data section, padding included, is the source's
    assert out.read_bytes()[dst.data_offset :] == base.read_bytes()[src.data_offset :]


def test_custom_alignment_and_uint64_context_type_are_kept(tmp_path: Path) -> None:
    src = make_qwen2_gguf(tmp_path / "a.gguf", alignment=256)
    out = extend_context(src, tmp_path / "b.gguf", factor=2.0)
    reader = GGUFReader(out)
    assert reader.alignment == 256 and reader.data_offset % 256 == 0
    assert reader.fields["qwen2.context_length"].contents() == 65536
    for old, new in zip(GGUFReader(src).tensors, reader.tensors, strict=True):
        assert new.data.tobytes() == old.data.tobytes()


def test_big_endian_file_stays_big_endian(tmp_path: Path) -> None:
    src = make_qwen2_gguf(tmp_path / "be.gguf", big_endian=True)
    out = extend_context(src, tmp_path / "be-long.gguf")
    reader = GGUFReader(out)
    assert reader.byte_order == "S"
    assert reader.fields["qwen2.context_length"].contents() == 131072
    assert reader.fields["qwen2.rope.scaling.factor"].contents() == 4.0
    assert read_context_info(out).original_context == 32768


@pytest.mark.parametrize(
    ("factor", "original", "expected"),
    [(4.0, None, 131072), (2, None, 65536), (2.5, 16384, 40960), (8.0, 4096, 32768)],
)
def test_factor_and_original_context(
    base: Path, tmp_path: Path, factor: float, original: int | None, expected: int
) -> None:
    out = extend_context(base, tmp_path / "x.gguf", factor=factor, original_context=original)
    info = read_context_info(out)
    assert info == ContextInfo("qwen2", expected, "yarn", float(factor), original or 32768)
    assert info.is_scaled


def test_read_context_info_of_the_source(base: Path) -> None:
    info = read_context_info(base)
    assert info == ContextInfo("qwen2", 32768, None, None, None)
    assert not info.is_scaled


def test_progress_reports_every_byte_once(base: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = extend_context(base, tmp_path / "p.gguf", progress=lambda d, t: seen.append((d, t)))
    done = [d for d, _ in seen]
    assert done == sorted(done)
    assert {t for _, t in seen} == {out.stat().st_size}
    assert done[-1] == out.stat().st_size


def test_the_copy_is_fsynced_before_it_is_renamed(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash right after the rename must not leave a `dst` whose bytes never hit the disk."""
    log = fsync_rename_log(monkeypatch)
    out = extend_context(base, tmp_path / "durable.gguf")
    assert log == [("fsync", out.stat().st_ino), ("rename", out.stat().st_ino)]


def test_unusual_arrays_are_kept_byte_for_byte(tmp_path: Path) -> None:
    """Nested arrays, multi-byte and empty strings: copied, never decoded, so never changed."""
    extra = {
        "test.nested": ([[1, 2], [3]], GGUFValueType.ARRAY, GGUFValueType.ARRAY),
        "test.unicode": (["日本語", "", "ü<|im_end|>"], GGUFValueType.ARRAY, GGUFValueType.STRING),
        "test.bools": ([True, False], GGUFValueType.ARRAY, GGUFValueType.BOOL),
    }
    src = make_qwen2_gguf(tmp_path / "odd.gguf", extra_kv=extra)
    before, after = fields(src), fields(extend_context(src, tmp_path / "odd-long.gguf"))
    for key in extra:
        assert after[key] == before[key]
    assert after["test.unicode"][1] == ["日本語", "", "ü<|im_end|>"]


def test_header_memory_does_not_grow_per_vocabulary_entry(tmp_path: Path) -> None:
    """GGUFReader keeps a numpy view per token (64 MB for 20k tokens); we keep one per array."""
    path = make_qwen2_gguf(tmp_path / "vocab.gguf", vocab_size=20_000)
    header_bytes = read_header(path).data_offset  # ~700 kB, nearly all vocabulary
    tracemalloc.start()
    try:
        assert read_context_info(path).context_length == 32768
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * header_bytes + (512 << 10)


@pytest.mark.parametrize("mode", ["cross-device", "missing"])
def test_buffered_copy_when_the_kernel_cannot(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "missing":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    else:

        def refuse(*_args: object) -> int:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    monkeypatch.setattr(yarn, "_COPY_CHUNK", 4096)  # several rounds through the buffer
    out = extend_context(base, tmp_path / "c.gguf")
    reference = extend_context(base, tmp_path / "ref.gguf") if mode == "missing" else None
    src, dst = GGUFReader(base), GGUFReader(out)
    assert out.read_bytes()[dst.data_offset :] == base.read_bytes()[src.data_offset :]
    if reference is not None:
        assert reference.read_bytes() == out.read_bytes()


# --- refusals: clear GGUFError, nothing left behind -----------------------------------------


def refused(src: Path, dst: Path, match: str, **kwargs: object) -> GGUFError:
    before = listing(src.parent, dst.parent)
    with pytest.raises(GGUFError, match=match) as caught:
        extend_context(src, dst, **kwargs)  # type: ignore[arg-type]
    assert listing(src.parent, dst.parent) == before
    return caught.value


def test_refuses_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    for name, content in [("text.gguf", b"hello world, not a model" * 10), ("empty.gguf", b"")]:
        path = tmp_path / name
        path.write_bytes(content)
        refused(path, tmp_path / "out.gguf", "not a GGUF file")


def test_refuses_another_architecture(tmp_path: Path) -> None:
    src = make_qwen2_gguf(tmp_path / "llama.gguf", architecture="llama")
    err = refused(src, tmp_path / "out.gguf", "not a qwen2 model")
    assert "llama" in str(err) and err.hint


@pytest.mark.parametrize(
    "scaling",
    [
        {"type": "yarn", "factor": 4.0, "original_context_length": 32768},
        {"type": "linear", "factor": 2.0},
        {"factor": 4.0},
    ],
)
def test_refuses_an_already_scaled_model(tmp_path: Path, scaling: dict[str, object]) -> None:
    src = make_qwen2_gguf(tmp_path / "scaled.gguf", rope_scaling=scaling)
    refused(src, tmp_path / "out.gguf", "already RoPE-scaled")


def test_extending_twice_is_refused(base: Path, tmp_path: Path) -> None:
    once = extend_context(base, tmp_path / "once.gguf")
    refused(once, tmp_path / "twice.gguf", "already RoPE-scaled")


def test_accepts_explicit_none_scaling(tmp_path: Path) -> None:
    src = make_qwen2_gguf(tmp_path / "none.gguf", rope_scaling={"type": "none", "factor": 1.0})
    out = extend_context(src, tmp_path / "out.gguf")
    assert read_context_info(out).rope_scaling_type == "yarn"


def test_refuses_truncated_tensor_data(base: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(base.read_bytes()[:-1000])
    err = refused(cut, tmp_path / "out.gguf", "truncated")
    assert f"{cut.stat().st_size:,}" in str(err)


def test_refuses_truncated_header(base: Path, tmp_path: Path) -> None:
    cut = tmp_path / "head.gguf"
    cut.write_bytes(base.read_bytes()[:600])
    refused(cut, tmp_path / "out.gguf", "truncated")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"general.name", b"general.type"),  # the same key twice
        (b"general.file_type\x04\x00\x00\x00", b"general.file_type\x63\x00\x00\x00"),
    ],
)
def test_refuses_a_damaged_header(base: Path, tmp_path: Path, old: bytes, new: bytes) -> None:
    data = base.read_bytes()
    assert data.count(old) == 1
    bad = tmp_path / "damaged.gguf"
    bad.write_bytes(data.replace(old, new))
    err = refused(bad, tmp_path / "out.gguf", "damaged or unsupported GGUF")
    assert err.hint


def test_refuses_writing_over_the_source(base: Path, tmp_path: Path) -> None:
    refused(base, base, "destination is the source")
    link = tmp_path / "src" / "hardlink.gguf"
    os.link(base, link)
    refused(base, link, "destination is the source", overwrite=True)


def test_refuses_an_existing_destination_unless_overwrite(base: Path, tmp_path: Path) -> None:
    dst = tmp_path / "exists.gguf"
    dst.write_text("mine")
    refused(base, dst, "already exists")
    assert dst.read_text() == "mine"
    extend_context(base, dst, overwrite=True)
    assert read_context_info(dst).context_length == 131072


@pytest.mark.parametrize("factor", [0, 1.0, 0.5, -4, math.nan, math.inf, 100.0, 1.3])
def test_refuses_a_bad_factor(base: Path, tmp_path: Path, factor: float) -> None:
    refused(base, tmp_path / "out.gguf", "factor|whole context", factor=factor)


@pytest.mark.parametrize("original", [0, -1, True, 2.5])
def test_refuses_a_bad_original_context(base: Path, tmp_path: Path, original: object) -> None:
    refused(base, tmp_path / "out.gguf", "original context", original_context=original)


def test_refuses_when_the_disk_is_too_small(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def tiny(_path: object) -> shutil._ntuple_diskusage:
        return shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000)

    monkeypatch.setattr(shutil, "disk_usage", tiny)
    err = refused(base, tmp_path / "out.gguf", "not enough free disk")
    assert err.hint


def test_ctrl_c_mid_copy_removes_the_temporary_file(base: Path, tmp_path: Path) -> None:
    calls = []

    def interrupt(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    before = listing(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        extend_context(base, tmp_path / "out.gguf", progress=interrupt)
    assert listing(tmp_path) == before


def test_write_error_mid_copy_is_a_gguf_error(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full, raising=False)
    err = refused(base, tmp_path / "out.gguf", "No space left")
    assert err.hint


# --- CLI ------------------------------------------------------------------------------------


def test_cli_extends_and_reports(base: Path, tmp_path: Path) -> None:
    dst = tmp_path / "long.gguf"
    result = CliRunner().invoke(cli, ["extend-context", str(base), str(dst)])
    assert result.exit_code == 0, result.output
    assert "context 131072" in result.output and "yarn factor 4 over 32768" in result.output
    assert read_context_info(dst).context_length == 131072


def test_cli_json_and_options(base: Path, tmp_path: Path) -> None:
    dst = tmp_path / "long.gguf"
    args = ["extend-context", str(base), str(dst), "--factor", "2", "--original-context", "16384"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["context_length"] == 32768 and doc["factor"] == 2.0
    assert doc["size"] == dst.stat().st_size


def test_cli_error_and_force(base: Path, tmp_path: Path) -> None:
    dst = tmp_path / "long.gguf"
    dst.write_text("keep")
    result = CliRunner().invoke(cli, ["extend-context", str(base), str(dst)])
    assert result.exit_code == 1
    assert "error:" in result.stderr and "--force" in result.stderr
    result = CliRunner().invoke(cli, ["extend-context", str(base), str(dst), "--force"])
    assert result.exit_code == 0, result.output
