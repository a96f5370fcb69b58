"""The public surface: every public module and name is reachable from `import qwenkit`."""

import subprocess
import sys
from pathlib import Path

import qwenkit

PACKAGE = Path(qwenkit.__file__).parent


def test_every_public_submodule_is_reachable_lazily():
    public = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    public |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} - {"cli"}
    assert public == set(qwenkit._SUBMODULES)
    for name in sorted(public):
        assert getattr(qwenkit, name).__name__ == f"qwenkit.{name}"


def test_import_does_no_heavy_work():
    heavy = "('httpx', 'pydantic', 'gguf', 'numpy')"
    code = f"import sys, qwenkit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
