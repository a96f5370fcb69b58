"""The typed Ollama client: request builders → transport (the only httpx code) → response models.

`Client` and `AsyncClient` share everything that does no I/O: the request builders
(`_requests`), the stream decoders (`_streaming`, `_chunks`), and the sans-I/O chat flows for
structured output (`structured`) and tool calling (`tools`).
"""

from ._async_client import AsyncClient
from ._client import Client, file_digest
from ._openai_client import AsyncOpenAIClient, OpenAIClient, connect
from ._streaming import AsyncChatStream, ChatStream

__all__ = [
    "AsyncChatStream",
    "AsyncClient",
    "AsyncOpenAIClient",
    "ChatStream",
    "Client",
    "OpenAIClient",
    "connect",
    "file_digest",
]
