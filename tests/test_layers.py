"""The package layout is the architecture: layers import only downwards, and nothing cycles.

cli > deploy > webui > setup/bench > longctx > planner/hardware/variants > client/modelfile >
types/errors/options/catalog/_common. Read from the source with `ast`, so an import hidden
inside a function or under `TYPE_CHECKING` counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import qwenkit

PACKAGE = Path(qwenkit.__file__).parent

#: top layer first; a module may import its own layer's other packages and any layer below
LAYERS: list[set[str]] = [
    {"__main__", "cli"},
    {"deploy"},
    {"webui"},
    {"setup", "bench"},
    {"longctx", "yarn"},
    {"planner", "hardware", "variants"},
    {"client", "modelfile"},
    {"types", "_request_models", "options", "errors", "catalog", "_common"},
]
RANK = {part: rank for rank, layer in enumerate(LAYERS) for part in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every qwenkit module `name` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from . import x` names a module when x is one
            targets = [
                f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                for a in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _concern(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the root package


def test_every_module_belongs_to_a_layer():
    assert {_concern(m) for m in MODULES} - {None} <= set(RANK)


def test_layers_import_only_downwards():
    upward = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if _concern(name) is not None  # the root's lazy `__getattr__` serves every layer
        and _concern(target) is not None  # `from qwenkit import __version__` is fine anywhere
        and RANK[_concern(target)] < RANK[_concern(name)]
    ]
    assert upward == []


def test_no_import_cycles():
    """Between modules, and between packages (a concern never needs one that needs it)."""

    def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        found = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            for w in graph.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for v in graph:
            if v not in index:
                visit(v)
        return found

    # a package's __init__ importing its own modules is not a cycle; a module importing
    # its package's __init__ would be
    modules = {
        n: {t for t in targets if not (MODULES[n].name == "__init__.py" and t.startswith(n + "."))}
        for n, targets in GRAPH.items()
    }
    assert cycles(modules) == []
    packages: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        mine = _concern(name)
        if mine is not None:
            packages.setdefault(mine, set()).update(
                c for c in map(_concern, targets) if c is not None and c != mine
            )
    assert cycles(packages) == []


def test_the_contract_sees_hidden_imports():
    """The graph counts imports inside functions and under TYPE_CHECKING (else it proves little)."""
    assert "qwenkit.client" in GRAPH["qwenkit.hardware._probe"]  # inside connect_client
    assert "qwenkit.longctx" in GRAPH["qwenkit.setup._long"]  # inside functions
