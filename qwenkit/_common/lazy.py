"""A module imported on its first use, for the few imports whose start-up cost is measured.

Use it only beside a `TYPE_CHECKING` import of the same module (type checkers and the layers
test then see the real dependency) and a comment with the figure that justifies it:

```python
if TYPE_CHECKING:
    from . import _requests as rq
else:  # defining its pydantic models is most of `import qwenkit; qwenkit.Client`
    rq = LazyModule("qwenkit.client._requests")
```

Unlike `importlib.util.LazyLoader`, a first use from two threads at once is safe: both go
through the import system, whose per-module lock runs the module once.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module `name` and imports it when an attribute is first read."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<LazyModule {self._name!r} ({state})>"
