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
