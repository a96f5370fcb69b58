"""Modelfiles written by setup: a rerun replaces its own files and never a user's edit."""

import pytest

from qwenkit.errors import QwenkitError
from qwenkit.setup._files import stamp, write_modelfile

TEXT = "FROM qwen2.5:7b-instruct-q4_K_M\nPARAMETER num_ctx 8192\n"


def test_rerun_is_unchanged_and_a_new_plan_replaces_an_untouched_file(tmp_path):
    path = tmp_path / "qwenkit-chat.Modelfile"
    assert write_modelfile(path, TEXT) == "created"
    assert write_modelfile(path, TEXT) == "unchanged"
    assert write_modelfile(path, TEXT.replace("8192", "16384")) == "replaced"
    assert "16384" in path.read_text()


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace(b"8192", b"4096"),  # a real edit
        lambda b: b.replace(b"\n", b"\r\n"),  # re-saved with CRLF line endings
        lambda b: b.decode().encode("utf-16"),  # re-saved in another encoding
    ],
)
def test_an_edited_file_is_refused_and_left_as_it_was(tmp_path, edit):
    path = tmp_path / "qwenkit-chat.Modelfile"
    write_modelfile(path, TEXT)
    edited = edit(path.read_bytes())
    path.write_bytes(edited)
    with pytest.raises(QwenkitError, match="was edited") as info:
        write_modelfile(path, TEXT.replace("8192", "16384"))
    assert "--force" in (info.value.hint or "")
    assert path.read_bytes() == edited
    assert write_modelfile(path, TEXT, force=True) == "replaced"
    assert path.read_text() == stamp(TEXT)
