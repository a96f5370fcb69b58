"""Modules imported on their first use, for the few imports whose start-up cost is measured.

Use it only beside a `TYPE_CHECKING` import of the same module (type checkers and the layers
test then see the real dependency) and a comment with the figure that justifies it:

```python
if TYPE_CHECKING:
    from . import _requests as rq
else:  # defining its pydantic models is most of `import qwenkit; qwenkit.Client`
    defer(globals(), rq="qwenkit.client._requests")
```

On first use the stand-in imports the module and puts it in its place in the namespace, so
later calls read a plain module global (no per-call cost). Unlike
`importlib.util.LazyLoader`, a first use from two threads at once is safe: both go through the
import system, whose per-module lock runs the module once.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for the module `name` under `alias` in `namespace` until an attribute is read."""

    __slots__ = ("_alias", "_name", "_namespace")

    def __init__(self, name: str, namespace: dict[str, Any], alias: str) -> None:
        self._name, self._namespace, self._alias = name, namespace, alias

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self._name)
        self._namespace[self._alias] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def defer(namespace: dict[str, Any], **modules: str) -> None:
    """Bind each alias in `namespace` to a `LazyModule` for the module named."""
    for alias, name in modules.items():
        namespace[alias] = LazyModule(name, namespace, alias)
