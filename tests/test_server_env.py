"""The server settings a plan needs, as exact lines for each service manager."""

import shlex

import pytest

from qwenkit.errors import QwenkitError
from qwenkit.server_env import (
    SYSTEMD_DROPIN,
    launchd_commands,
    server_env_guide,
    systemd_override,
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
    assert guide.for_platform("macos").platform == "darwin"
    assert guide.for_platform("win32").platform == "windows"
    data = guide.to_dict()
    assert 'Environment="OLLAMA_FLASH_ATTENTION=1"' in data["instructions"]["linux"]


def test_empty_env_needs_no_instructions():
    guide = server_env_guide({})
    assert guide.instructions == ()
    assert guide.for_platform("linux") is None
