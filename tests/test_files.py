import os
import stat

import pytest

from qwenkit._common.files import atomic_file, write_text_atomic
from qwenkit.errors import QwenkitError
from tests.durability import fsync_rename_log


def test_creates_then_leaves_identical_text_alone(tmp_path):
    target = tmp_path / "sub" / "a.Modelfile"
    assert write_text_atomic(target, "FROM x\n") == "created"
    assert write_text_atomic(target, "FROM x\n") == "unchanged"
    assert target.read_text() == "FROM x\n"


def test_refuses_to_clobber_a_different_file_without_force(tmp_path):
    target = tmp_path / "a.Modelfile"
    target.write_text("FROM mine\n")
    with pytest.raises(QwenkitError, match="differs") as info:
        write_text_atomic(target, "FROM theirs\n")
    assert "--force" in (info.value.hint or "")
    assert target.read_text() == "FROM mine\n"
    assert write_text_atomic(target, "FROM theirs\n", force=True) == "replaced"
    assert target.read_text() == "FROM theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.Modelfile"]  # no temp file left


def test_new_files_get_the_umask_mode_and_replacements_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "a.Modelfile"
        write_text_atomic(target, "FROM x\n")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        target.chmod(0o600)
        write_text_atomic(target, "FROM y\n", force=True)
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_file_that_differs_only_in_line_endings_is_not_unchanged(tmp_path):
    target = tmp_path / "a.Modelfile"
    target.write_bytes(b"FROM x\r\n")
    with pytest.raises(QwenkitError, match="differs"):
        write_text_atomic(target, "FROM x\n")
    assert target.read_bytes() == b"FROM x\r\n"
    assert write_text_atomic(target, "FROM x\n", force=True) == "replaced"
    assert target.read_bytes() == b"FROM x\n"


def test_an_existing_file_that_is_not_utf8_is_refused_cleanly(tmp_path):
    target = tmp_path / "a.Modelfile"
    target.write_bytes(b"\xff\xfeF\x00")
    with pytest.raises(QwenkitError, match="differs"):
        write_text_atomic(target, "FROM x\n")
    assert target.read_bytes() == b"\xff\xfeF\x00"


def test_an_unwritable_place_is_a_qwenkit_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    with pytest.raises(QwenkitError, match="cannot write") as info:
        write_text_atomic(blocker / "a.Modelfile", "FROM x\n")
    assert info.value.hint
    assert blocker.read_text() == "not a directory\n"


def test_the_bytes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    log = fsync_rename_log(monkeypatch)
    write_text_atomic(tmp_path / "Modelfile", "FROM qwen2.5\n")
    (fsync, synced), (rename, renamed) = log
    assert (fsync, rename) == ("fsync", "rename") and synced == renamed


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "sidecar.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("power cut")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
