"""The command itself: bare `qwenkit`, `--help` staying light, Ctrl-C at a prompt."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner

from tests.fake_ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    return {**clean, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def test_bare_qwenkit_shows_the_help_and_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "qwenkit"], capture_output=True, text=True, env=env(), check=False
    )
    assert done.returncode == 0
    assert "Commands:" in done.stdout and "setup" in done.stdout


HEAVY = ("qwenkit.client", "httpx", "pydantic", "rich")


@pytest.mark.parametrize("args", [["--help"], ["setup", "--help"], ["webui", "--help"]])
def test_help_stays_light(args):
    """`qwenkit --help` loads no client at all; no help loads rich (only progress needs it)."""
    code = (
        "import sys\n"
        "from qwenkit.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('MODULES', __import__('json').dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env(), check=False
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES"))
    loaded = set(json.loads(line.removeprefix("MODULES ")))
    assert "rich" not in loaded
    if args == ["--help"]:
        assert loaded == set()


def test_ctrl_c_at_the_confirmation_exits_130_and_changes_nothing(tmp_path):
    with FakeOllama(version="0.12.11") as fake:
        fake.add_library()
        child = pexpect.spawn(
            sys.executable,
            ["-m", "qwenkit", "setup", "--host", fake.url],
            cwd=str(tmp_path),
            env=env(),
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 100),
        )
        child.expect(r"\[Y/n\]")
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 130
        assert "interrupted" in (child.before or "")
        assert "Aborted" not in (child.before or "")
        assert fake.requests_to("/api/pull") == [] and fake.requests_to("/api/create") == []


def test_a_host_that_does_not_resolve_is_not_blamed_on_a_missing_ollama():
    from qwenkit.errors import OllamaUnavailableError

    err = OllamaUnavailableError(
        "http://garbage:11434", detail="[Errno -2] Name or service not known"
    )
    assert err.unresolved and err.exit_code == 3
    assert "does not resolve" in (err.hint or "") and "ollama serve" not in (err.hint or "")
    refused = OllamaUnavailableError("http://127.0.0.1:1", detail="[Errno 111] Connection refused")
    assert not refused.unresolved and "ollama serve" in (refused.hint or "")


def _summary(**kw):
    from qwenkit.setup import Summary

    base = {"models": [], "plan": {}, "modelfiles": [], "checks": [], "webui": []}
    env = {"instructions": {"linux": ["systemctl edit ollama"], "darwin": ["launchctl setenv X 1"],
                            "windows": ["setx X 1"]}}  # fmt: skip
    return Summary(**{**base, "server_env": env, **kw})


@pytest.mark.parametrize(
    ("platform", "shown", "hidden"),
    [
        ("darwin", "launchctl", "systemctl"),
        ("win32", "setx", "launchctl"),
        ("linux", "systemctl", "setx"),
    ],
)
def test_the_summary_shows_this_systems_server_lines_and_the_next_step(platform, shown, hidden):
    from qwenkit.cli._setup_view import summary_lines

    lines = summary_lines(_summary(models=["mine-chat", "mine-json"]), platform)
    text = "\n".join(lines)
    assert shown in text and hidden not in text
    assert lines[-1] == "next: `qwenkit chat mine-chat` (/help inside lists the commands)"
    dry = summary_lines(_summary(dry_run=True), platform)[-1]
    assert "without --dry-run" in dry


def spawn_chat(fake: FakeOllama, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "qwenkit", "chat", "--host", fake.url, *args],
        env=env(),
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 100),
    )


def test_chat_has_line_history_help_and_bye():
    with FakeOllama(version="0.12.11") as fake:
        fake.add_local_model("qwenkit-chat")
        child = spawn_chat(fake)
        child.expect(">>> ")
        child.sendline("/help")
        child.expect("/bye")
        child.expect(">>> ")
        child.sendline("first question")
        child.expect("fake Ollama answering: first question")
        child.expect(">>> ")
        child.send("\x1b[A")  # arrow up: the previous line comes back (readline history)
        child.sendline("")
        child.expect("fake Ollama answering: first question")
        child.expect(">>> ")
        child.sendline("/bye")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        sent = [r.json["messages"][-1]["content"] for r in fake.requests_to("/api/chat")]
        assert sent == ["first question", "first question"]
        assert "^[[" not in (child.before or "")


def test_ctrl_c_stops_the_reply_not_the_session():
    with FakeOllama(version="0.12.11", token_delay=0.2) as fake:
        fake.add_local_model("qwenkit-chat")
        fake.chat_script.extend([" ".join(f"word{i}" for i in range(200)), "Second answer."])
        child = spawn_chat(fake)
        child.expect(">>> ")
        child.sendline("talk a lot")
        child.expect("word2")
        child.sendintr()
        child.expect(r"\(stopped\)")
        child.expect(">>> ")
        child.sendline("still there?")
        child.expect("Second answer.")
        child.expect(">>> ")
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        last = fake.requests_to("/api/chat")[-1].json["messages"]
        assert [m["content"] for m in last] == ["still there?"]  # the stopped turn was dropped


def test_chat_checks_the_model_before_the_first_prompt():
    with FakeOllama(version="0.12.11") as fake:
        child = spawn_chat(fake, "qwenkit-chat")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 1
        assert "hint: create the qwenkit variants with `qwenkit setup`" in (child.before or "")
        assert ">>>" not in (child.before or "")
        assert fake.requests_to("/api/chat") == []


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_pull_progress_fits_an_80_column_terminal(tmp_path):
    with FakeOllama(version="0.12.11") as fake:
        fake.add_library()
        child = pexpect.spawn(
            sys.executable,
            ["-m", "qwenkit", "setup", "--yes", "--host", fake.url, "--no-verify"],
            cwd=str(tmp_path),
            env={**env(), "COLUMNS": "80", "LINES": "40"},
            encoding="utf-8",
            timeout=60,
            dimensions=(40, 80),
        )
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
    drawn = [ANSI.sub("", part) for part in re.split(r"[\r\n]", child.before or "")]
    bars = [line for line in drawn if "pull qwen2.5" in line]
    assert bars, "the bar was drawn"
    assert max(len(line) for line in bars) <= 80
    assert not any("ETA" in line and "pull" not in line for line in drawn)  # no leftovers


def test_every_option_has_help_and_no_listing_is_cut():
    import click

    from qwenkit.cli import cli
    from tests.test_cli_hostile import COMMANDS

    missing = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, command in COMMANDS.items()
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and not param.help
    ]
    assert missing == []
    for group_args in ([], ["webui"], ["deploy"]):
        shown = CliRunner().invoke(cli, [*group_args, "--help"], terminal_width=80).output
        listing = shown.split("Commands:", 1)[-1]
        assert "..." not in listing, shown
