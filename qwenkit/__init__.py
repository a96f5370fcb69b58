"""qwenkit: a tuned Qwen2.5-7B-Instruct on Ollama, and a typed client for scripts.

Names are imported on first use, so `import qwenkit` stays cheap and does no I/O.

```python
import qwenkit

client = qwenkit.Client()
reply = client.chat(model="qwenkit-chat", messages=[{"role": "user", "content": "Hi"}])
print(reply.message.content)
```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    GGUFError,
    ModelfileError,
    ModelNotFoundError,
    OllamaError,
    OllamaTimeoutError,
    OllamaUnavailableError,
    PlanError,
    ProtocolError,
    QwenkitError,
    ResponseError,
    SetupError,
    StructuredOutputError,
    ToolError,
    TruncatedOutputError,
    VerificationError,
    WebUIError,
)

__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    "Client": "qwenkit.client",
    "AsyncClient": "qwenkit.client",
    "OpenAIClient": "qwenkit.client",
    "AsyncOpenAIClient": "qwenkit.client",
    "connect": "qwenkit.client",
    "Modelfile": "qwenkit.modelfile",
    "Options": "qwenkit.options",
    "HardwareProfile": "qwenkit.hardware",
    "probe": "qwenkit.hardware",
    "Plan": "qwenkit.planner",
    "plan": "qwenkit.planner",
}

#: public modules and packages (one per concern), reachable as `qwenkit.<name>`
_SUBMODULES = frozenset(
    {
        "bench",
        "catalog",
        "client",
        "deploy",
        "errors",
        "hardware",
        "longctx",
        "modelfile",
        "options",
        "planner",
        "setup",
        "types",
        "variants",
        "webui",
        "yarn",
    }
)

if TYPE_CHECKING:
    from .client import AsyncClient, AsyncOpenAIClient, Client, OpenAIClient, connect
    from .hardware import HardwareProfile, probe
    from .modelfile import Modelfile
    from .options import Options
    from .planner import Plan, plan


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"qwenkit.{name}")
    raise AttributeError(f"module 'qwenkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | _SUBMODULES)


__all__ = [
    "AsyncClient",
    "AsyncOpenAIClient",
    "Client",
    "GGUFError",
    "HardwareProfile",
    "ModelNotFoundError",
    "Modelfile",
    "ModelfileError",
    "OllamaError",
    "OllamaTimeoutError",
    "OllamaUnavailableError",
    "OpenAIClient",
    "Options",
    "Plan",
    "PlanError",
    "ProtocolError",
    "QwenkitError",
    "ResponseError",
    "SetupError",
    "StructuredOutputError",
    "ToolError",
    "TruncatedOutputError",
    "VerificationError",
    "WebUIError",
    "__version__",
    "connect",
    "plan",
    "probe",
]
