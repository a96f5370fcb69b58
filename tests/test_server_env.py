"""The server settings a plan needs, as exact lines for each service manager."""

import shlex

import pytest

from qwenkit.errors import QwenkitError
from qwenkit.setup.server_env import (
    SYSTEMD_DROPIN,
    launchd_commands,
    server_env_guide,
    systemd_override,
    version_notes,
    windows_commands,
)

ENV = {"OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"}


def parse_systemd_environment(line: str) -> tuple[str, str]:
    """Undo systemd's quoting of one `Environment="K=V"` line, as systemd would read it."""
    assert line.startswith('Environment="') and line.endswith('"')
    body = line[len('Environment="') : -1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            out.append(body[i + 1])
            i += 2
        elif ch == "%":
            assert body[i + 1] == "%", "a lone % is a systemd specifier"
            out.append("%")
            i += 2
        else:
            assert ch != '"', "unescaped quote ends the word early"
            out.append(ch)
            i += 1
    name, _, value = "".join(out).partition("=")
    return name, value


def test_systemd_dropin_has_one_environment_line_per_setting():
    inst = systemd_override(ENV)
    assert inst.file_path == SYSTEMD_DROPIN
    lines = inst.file_text.splitlines()
    assert lines[0] == "[Service]"
    assert dict(parse_systemd_environment(line) for line in lines[1:]) == ENV
    assert "sudo systemctl daemon-reload" in inst.commands
    assert "sudo systemctl restart ollama" in inst.commands


@pytest.mark.parametrize("value", ['a "quoted" value', "back\\slash", "100%", "with space"])
def test_systemd_quoting_round_trips(value):
    inst = systemd_override({"OLLAMA_ORIGINS": value})
    line = inst.file_text.splitlines()[1]
    assert parse_systemd_environment(line) == ("OLLAMA_ORIGINS", value)


@pytest.mark.parametrize("value", ["1", "q8_0", "http://a b", "it's"])
def test_launchctl_lines_split_back_into_the_value(value):
    inst = launchd_commands({"OLLAMA_ORIGINS": value})
    words = shlex.split(inst.commands[0])
    assert words == ["launchctl", "setenv", "OLLAMA_ORIGINS", value]
    assert any("quit Ollama" in c for c in inst.commands)


def test_windows_setx_lines():
    inst = windows_commands(ENV)
    assert inst.commands[:2] == (
        'setx OLLAMA_FLASH_ATTENTION "1"',
        'setx OLLAMA_KV_CACHE_TYPE "q8_0"',
    )


@pytest.mark.parametrize("value", ['say "hi"', "%PATH%"])
def test_windows_refuses_values_cmd_would_mangle(value):
    with pytest.raises(QwenkitError, match="setx"):
        windows_commands({"OLLAMA_ORIGINS": value})


@pytest.mark.parametrize("name", ["1BAD", "HAS SPACE", "A=B", ""])
def test_invalid_names_are_refused(name):
    with pytest.raises(QwenkitError, match="name"):
        server_env_guide({name: "1"})


def test_line_breaks_in_values_are_refused():
    with pytest.raises(QwenkitError, match="line break"):
        server_env_guide({"OLLAMA_ORIGINS": "a\nb"})


def test_guide_covers_three_platforms_and_booleans_become_digits():
    guide = server_env_guide({"OLLAMA_FLASH_ATTENTION": True})
    assert guide.env == {"OLLAMA_FLASH_ATTENTION": "1"}
    assert [i.platform for i in guide.instructions] == ["linux", "darwin", "windows"]
    data = guide.to_dict()
    assert 'Environment="OLLAMA_FLASH_ATTENTION=1"' in data["instructions"]["linux"]


def test_empty_env_needs_no_instructions():
    guide = server_env_guide({})
    assert guide.instructions == ()
    assert guide.to_dict()["instructions"] == {}


def plan_dict(num_ctx=32768, kv="f16", fa=False):
    return {"num_ctx": num_ctx, "kv_cache_type": kv, "flash_attention": fa}


def test_current_server_with_default_settings_has_only_the_context_note():
    notes = version_notes("0.33.0", plan_dict())
    assert len(notes) == 1 and "default context by total VRAM" in notes[0]


def test_old_servers_are_warned_about_what_they_lack():
    joined = " | ".join(version_notes("0.5.4", plan_dict(num_ctx=65536)))
    assert "structured /api/create" in joined
    assert "does not clamp" in joined
    assert "/api/ps" in joined
    assert "default context" not in joined  # the VRAM tiers arrived in 0.16


def test_clamp_note_only_when_the_plan_exceeds_the_trained_context():
    assert not any("does not clamp" in n for n in version_notes("0.9.0", plan_dict(32768)))
    assert any("does not clamp" in n for n in version_notes("0.9.0", plan_dict(65536)))
    assert not any("does not clamp" in n for n in version_notes("0.9.3", plan_dict(65536)))


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("0.12.10", "flash attention is off for qwen2"),
        ("0.20.7", "dropped unless OLLAMA_FLASH_ATTENTION=1"),
        ("0.30.0", "llama-server"),
    ],
)
def test_quantized_kv_cache_notes_follow_the_version(version, words):
    notes = version_notes(version, plan_dict(kv="q8_0", fa=True))
    assert any(words in n and "KV cache q8_0" in n for n in notes)


def test_unparseable_version_is_one_note():
    assert version_notes("dev-build", plan_dict()) == [
        "unrecognised Ollama version 'dev-build'; assuming a current server"
    ]
