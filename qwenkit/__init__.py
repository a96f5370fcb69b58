"""qwenkit: a tuned Qwen2.5-7B-Instruct on Ollama, and a typed client for scripts.

Names are imported on first use, so `import qwenkit` stays cheap and does no I/O.
As in the `ollama` package, the client's calls are also module functions on a default client
(`qwenkit.chat(...)`, `qwenkit.pull("m")`), and the response types are importable from here.

```python
import qwenkit

client = qwenkit.Client()
reply = client.chat(model="qwenkit-chat", messages=[{"role": "user", "content": "Hi"}])
print(reply.message.content)
```
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    BenchError,
    CapabilityError,
    EmptyToolAnswerWarning,
    GGUFError,
    IncompleteAnswerError,
    InvalidRequestError,
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
    ToolRoundsError,
    TruncatedOutputError,
    VerificationError,
    WebUIError,
)

__version__ = "0.1.0"

#: `ollama.RequestError` by its qwenkit name: a request refused before it is sent
RequestError = InvalidRequestError

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
    **dict.fromkeys(
        (
            "ChatResponse",
            "EmbedResponse",
            "EmbeddingsResponse",
            "GenerateResponse",
            "Image",
            "ListResponse",
            "Message",
            "ProcessResponse",
            "ProgressResponse",
            "ShowResponse",
            "StatusResponse",
            "WebFetchResponse",
            "WebSearchResponse",
        ),
        "qwenkit.types",
    ),
}

#: the `ollama` package's module-level calls, bound to `qwenkit.client.default_client()`
_CLIENT_CALLS = frozenset(
    {
        "chat", "copy", "create", "delete", "embed", "embeddings", "generate", "list", "ps",
        "pull", "push", "show", "web_fetch", "web_search",
    }
)  # fmt: skip

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
    from .types import (
        ChatResponse,
        EmbeddingsResponse,
        EmbedResponse,
        GenerateResponse,
        Image,
        ListResponse,
        Message,
        ProcessResponse,
        ProgressResponse,
        ShowResponse,
        StatusResponse,
        WebFetchResponse,
        WebSearchResponse,
    )

    _default = Client()  # type checkers only: the module functions are its bound methods
    chat = _default.chat
    copy = _default.copy
    create = _default.create
    delete = _default.delete
    embed = _default.embed
    embeddings = _default.embeddings
    generate = _default.generate
    list = _default.list
    ps = _default.ps
    pull = _default.pull
    push = _default.push
    show = _default.show
    web_fetch = _default.web_fetch
    web_search = _default.web_search


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _CLIENT_CALLS:  # not cached here: `list` must not shadow the builtin in this module
        return getattr(importlib.import_module("qwenkit.client").default_client(), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"qwenkit.{name}")
    raise AttributeError(f"module 'qwenkit' has no attribute {name!r}")


def __dir__() -> builtins.list[str]:
    return sorted(set(__all__) | _SUBMODULES | _CLIENT_CALLS)


__all__ = [
    "AsyncClient",
    "AsyncOpenAIClient",
    "BenchError",
    "CapabilityError",
    "ChatResponse",
    "Client",
    "EmbedResponse",
    "EmbeddingsResponse",
    "EmptyToolAnswerWarning",
    "GGUFError",
    "GenerateResponse",
    "HardwareProfile",
    "Image",
    "IncompleteAnswerError",
    "InvalidRequestError",
    "ListResponse",
    "Message",
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
    "ProcessResponse",
    "ProgressResponse",
    "ProtocolError",
    "QwenkitError",
    "RequestError",
    "ResponseError",
    "SetupError",
    "ShowResponse",
    "StatusResponse",
    "StructuredOutputError",
    "ToolError",
    "ToolRoundsError",
    "TruncatedOutputError",
    "VerificationError",
    "WebFetchResponse",
    "WebSearchResponse",
    "WebUIError",
    "__version__",
    "connect",
    "plan",
    "probe",
]
