"""`qwenkit modelfile VARIANT`: print, write atomically, refuse to clobber, report errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qwenkit.cli import cli
from qwenkit.cli.modelfile import VARIANT_NAMES
from qwenkit.modelfile import Modelfile
from qwenkit.variants import VARIANTS, render_variant


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["modelfile", *args])
    return result.exit_code, result.stdout, result.stderr


def test_variant_choices_match_the_variant_table() -> None:
    assert tuple(VARIANTS) == VARIANT_NAMES


@pytest.mark.parametrize("name", list(VARIANTS))
def test_prints_the_default_modelfile(name: str) -> None:
    code, out, err = run(name)
    assert code == 0, err
    assert out == render_variant(name)


def test_options_reach_the_modelfile() -> None:
    code, out, _ = run("json", "--quant", "q8_0", "--ctx", "4096", "--system", "Only JSON.")
    assert code == 0
    mf = Modelfile.parse(out)
    assert mf.from_ == "qwen2.5:7b-instruct-q8_0"
    assert mf.parameters["num_ctx"] == 4096
    assert mf.system == "Only JSON."


def test_empty_system_drops_the_line() -> None:
    code, out, _ = run("chat", "--system", "")
    assert code == 0
    assert Modelfile.parse(out).system is None


def test_long_takes_a_gguf_path_and_others_refuse_it() -> None:
    code, out, _ = run("long", "--gguf", "/models/y.gguf", "--ctx", "65536")
    assert code == 0
    assert Modelfile.parse(out).from_ == "/models/y.gguf"
    code, _, err = run("chat", "--gguf", "x.gguf")
    assert code == 2
    assert "long variant only" in err


def test_prefix_changes_the_model_name() -> None:
    code, out, _ = run("agent", "--prefix", "lab")
    assert code == 0
    assert "ollama create lab-agent -f lab-agent.Modelfile" in out


def test_writes_atomically_and_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "qwenkit-chat.Modelfile"
    code, out, err = run("chat", "-o", str(target))
    assert (code, out) == (0, "")
    assert "created" in err
    assert "ollama create qwenkit-chat -f" in err
    assert target.read_text(encoding="utf-8") == render_variant("chat")
    code, _, err = run("chat", "-o", str(target))
    assert code == 0
    assert "unchanged" in err
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left


def test_refuses_to_overwrite_a_different_file_without_force(tmp_path: Path) -> None:
    target = tmp_path / "Modelfile"
    target.write_text("FROM my-edits\n", encoding="utf-8")
    code, _, err = run("json", "-o", str(target))
    assert code == 1
    assert "exists and differs" in err
    assert "hint:" in err
    assert target.read_text(encoding="utf-8") == "FROM my-edits\n"
    code, _, err = run("json", "-o", str(target), "--force")
    assert code == 0
    assert "replaced" in err
    assert target.read_text(encoding="utf-8") == render_variant("json")


def test_json_output(tmp_path: Path) -> None:
    code, out, _ = run("chat", "--json")
    assert code == 0
    event = json.loads(out)
    assert event["model"] == "qwenkit-chat"
    assert event["modelfile"] == render_variant("chat")
    code, out, _ = run("chat", "--json", "-o", str(tmp_path / "m"))
    assert json.loads(out) == {
        "event": "written",
        "model": "qwenkit-chat",
        "path": str(tmp_path / "m"),
        "result": "created",
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["chat", "--ctx", "65536"], 4, "does not fit the chat variant"),
        (["chat", "--quant", "q9_Z"], 2, "unknown quantization"),
        (["vision"], 2, "Invalid value"),
        (["chat", "--ctx", "lots"], 2, "Invalid value"),
    ],
)
def test_errors_are_one_line_with_a_hint(args: list[str], code: int, message: str) -> None:
    exit_code, out, err = run(*args)
    assert exit_code == code
    assert out == ""
    assert message in err


def test_unwritable_system_prompt_is_a_modelfile_error() -> None:
    code, _, err = run("chat", "--system", 'ends """\nhere')
    assert code == 1
    assert "system cannot be written in a Modelfile" in err
