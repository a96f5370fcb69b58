"""The typed Ollama client: request builders → transport (the only httpx code) → response models.

`Client` and `AsyncClient` share everything that does no I/O: the request builders
(`_requests`), the stream decoders (`_streaming`, `_chunks`), and the sans-I/O chat flows for
structured output (`structured`) and tool calling (`tools`). Those modules, and the pydantic
models they define, are imported on a client's first call (see `_client`), so the names below
that live in them are too.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

from ._async_client import AsyncClient
from ._client import Client

if TYPE_CHECKING:
    from ._blobs import file_digest
    from ._openai_client import AsyncOpenAIClient, OpenAIClient, connect
    from ._streaming import AsyncChatStream, ChatStream

#: name -> module defining it, imported on first access
_LAZY = {
    "AsyncChatStream": "qwenkit.client._streaming",
    "AsyncOpenAIClient": "qwenkit.client._openai_client",
    "ChatStream": "qwenkit.client._streaming",
    "OpenAIClient": "qwenkit.client._openai_client",
    "connect": "qwenkit.client._openai_client",
    "file_digest": "qwenkit.client._blobs",
}


@functools.cache
def default_client() -> Client:
    """The client behind the module-level calls (`qwenkit.chat(...)`, `qwenkit.pull(...)`),
    as `ollama.chat` has one: made on first use, from `OLLAMA_HOST` and `OLLAMA_API_KEY`."""
    return Client()


#: public modules, reachable as `qwenkit.client.<name>` without an explicit import
_SUBMODULES = frozenset({"structured", "tools"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'qwenkit.client' has no attribute {name!r}")


__all__ = [
    "AsyncChatStream",
    "AsyncClient",
    "AsyncOpenAIClient",
    "ChatStream",
    "Client",
    "OpenAIClient",
    "connect",
    "default_client",
    "file_digest",
]
