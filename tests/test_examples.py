"""Every script in examples/ runs cleanly against the fake, exactly as the README says:

python -m tests.fake_ollama --state examples/fake/NAME.json   (default.json when absent)
OLLAMA_HOST=<the URL it prints> python examples/NAME.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def state_for(example: Path) -> Path:
    own = ROOT / "examples" / "fake" / f"{example.stem}.json"
    return own if own.exists() else ROOT / "examples" / "fake" / "default.json"


@pytest.fixture
def fake_for(request: pytest.FixtureRequest) -> Iterator[str]:
    example: Path = request.param
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_ollama",
            "--port",
            "0",
            "--state",
            str(state_for(example)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_examples_are_found():
    assert {p.name for p in EXAMPLES} >= {"chat.py", "tool_calling.py", "structured_output.py"}


@pytest.mark.parametrize("fake_for", EXAMPLES, ids=lambda p: p.name, indirect=True)
def test_example_runs_cleanly_against_the_fake(fake_for: str, request: pytest.FixtureRequest):
    example: Path = request.node.callspec.params["fake_for"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env.update(OLLAMA_HOST=fake_for, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(example)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and done.stdout.strip()
    assert "stopped:" not in done.stdout  # the tool loop finished, it was not cut off
