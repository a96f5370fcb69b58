"""The README's Quick start, run as written in a fresh copy of the repository (slow: a venv).

The first command is typed into a terminal, in the copy's own folder, where `modelfiles/`
holds the bundled files: exit 0 against the fake Ollama (answering the confirmation), and
exit 3 with no server at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.e2e.harness import REPO, free_port
from tests.fake_ollama import FakeOllama
from tests.test_readme import quick_start_commands

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files as a fresh clone has them (tracked and new, nothing ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    dst = tmp_path_factory.mktemp("clone") / "qwenkit"
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dst / name)
    return dst


def run_in_terminal(command: str, cwd: Path, host: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLLAMA_", "PYTHON"))}
    env.update(OLLAMA_HOST=host, NO_COLOR="1", PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    return pexpect.spawn(
        "bash", ["-c", command], cwd=str(cwd), env=env, encoding="utf-8", timeout=600
    )


def test_the_quick_start_runs_as_written_in_the_clone(clone: Path) -> None:
    setup, _ = quick_start_commands()
    bundled = {p.name: p.read_bytes() for p in (clone / "modelfiles").iterdir()}
    with FakeOllama(version="0.12.11") as fake:
        fake.add_library()
        child = run_in_terminal(setup, clone, fake.url)
        child.expect(r"\[Y/n\]")
        child.sendline("y")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
        assert "qwenkit-chat" in {m.split(":")[0] for m in fake.models}
    written = {p.name for p in (clone / "modelfiles").iterdir()}
    assert set(bundled) <= written  # the bundled files were recognised, not refused


def test_the_quick_start_without_ollama_exits_3(clone: Path) -> None:
    setup, _ = quick_start_commands()
    child = run_in_terminal(setup, clone, f"127.0.0.1:{free_port()}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3, child.before
    assert "Failed to connect to Ollama" in (child.before or "")
