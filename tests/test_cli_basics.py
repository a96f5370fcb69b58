"""The command itself: bare `qwenkit`, `--help` staying light, Ctrl-C at a prompt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

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


HEAVY = ("qwenkit.client", "qwenkit.cli._options", "httpx", "pydantic", "rich")


@pytest.mark.parametrize("args", [["--help"], ["setup", "--help"], ["webui", "--help"]])
def test_help_imports_no_client_and_no_rich(args):
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
    loaded = json.loads(line.removeprefix("MODULES "))
    if args == ["--help"]:
        assert loaded == []
    else:  # a subcommand's own options module may load; the client and rich never do
        assert not {"qwenkit.client", "httpx", "pydantic", "rich"} & set(loaded)


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
