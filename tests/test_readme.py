"""The README's Quick start is what CI runs, and says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    """The commands of the Quick start's code block, without their comments."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "the Quick start has a bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_has_the_two_commands_in_a_virtual_environment():
    setup, tests = quick_start_commands()
    venv = "python3 -m venv .venv && "
    assert setup.startswith(venv) and setup.endswith(".venv/bin/qwenkit setup")
    assert tests.startswith(venv) and tests.endswith(".venv/bin/pytest")


def test_ci_runs_the_readmes_test_command_as_written():
    _, tests = quick_start_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()
