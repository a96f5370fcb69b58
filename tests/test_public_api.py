"""The public surface: every public module and name is reachable from `import qwenkit`."""

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import qwenkit

PACKAGE = Path(qwenkit.__file__).parent


def test_every_public_module_and_package_is_reachable_lazily():
    public = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    public |= {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name[0] != "_"
    } - {"cli"}
    assert public == set(qwenkit._SUBMODULES)
    for name in sorted(public):
        assert getattr(qwenkit, name).__name__ == f"qwenkit.{name}"


@pytest.mark.parametrize("name", qwenkit.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(qwenkit, name) is not None
    assert name in dir(qwenkit)


def test_public_functions_are_not_shadowed_by_modules():
    # a submodule import sets the package attribute of the same name; these must stay callables
    for name in ("plan", "probe"):
        assert inspect.isfunction(getattr(qwenkit, name))
    importlib.import_module("qwenkit.planner")
    importlib.import_module("qwenkit.hardware")
    assert inspect.isfunction(qwenkit.plan) and inspect.isfunction(qwenkit.probe)
    assert qwenkit.planner.plan is qwenkit.plan
    assert qwenkit.hardware.probe is qwenkit.probe


def test_pull_is_no_submodule():
    # `qwenkit.pull` is reserved for a callable, like `ollama.pull`
    assert not (PACKAGE / "pull.py").exists() and not (PACKAGE / "pull").exists()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("qwenkit.pull")


def test_documented_import_paths():
    from qwenkit import AsyncClient, Client, Modelfile
    from qwenkit.errors import QwenkitError
    from qwenkit.types import ChatResponse
    from qwenkit.yarn import extend_context

    assert Client.__module__.startswith("qwenkit.client")
    assert AsyncClient.__module__.startswith("qwenkit.client")
    assert Modelfile.__module__.startswith("qwenkit.modelfile")
    assert issubclass(qwenkit.OllamaError, QwenkitError)
    assert ChatResponse.__module__ == "qwenkit.types"
    assert extend_context is qwenkit.longctx.extend_context


def test_import_does_no_heavy_work():
    heavy = "('httpx', 'pydantic', 'gguf', 'numpy')"
    code = f"import sys, qwenkit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
