"""How one benchmark request is sent and timed: Ollama's native chat through `AsyncClient`.

An endpoint streams one answer and writes into its `Sample`: the time of every piece of
text as it arrives (client side) and, where the server reports them, its own durations.
The loop runs once per token, so it does nothing but read the clock and the text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .result import NS, Sample

if TYPE_CHECKING:
    from ..client import AsyncClient

Clock = Callable[[], float]


class Endpoint(Protocol):
    """A server that streams chat answers; `api` names it in the report."""

    api: str
    server_timings: bool

    async def stream(self, sample: Sample, prompt: str, max_tokens: int, now: Clock) -> None:
        """Send `prompt`, time the answer into `sample`; raise `QwenkitError` on failure."""
        ...

    async def aclose(self) -> None: ...


def messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


class OllamaEndpoint:
    """`/api/chat` with `num_predict` = the output length; Ollama's durations come back."""

    api = "ollama"
    server_timings = True

    def __init__(self, client: AsyncClient, model: str, options: dict[str, Any] | None = None):
        self.client = client
        self.model = model
        self.options = dict(options or {})

    async def stream(self, sample: Sample, prompt: str, max_tokens: int, now: Clock) -> None:
        options = {**self.options, "num_predict": max_tokens}
        chat = await self.client.chat(self.model, messages(prompt), stream=True, options=options)
        gaps = sample.itl
        last = None
        final = None
        async for chunk in chat:
            at = now()
            if chunk["message"].get("content"):
                if last is None:
                    sample.first_token = at
                else:
                    gaps.append(at - last)
                last = at
            if chunk.get("done"):
                final = chunk
        sample.end = now()
        sample.last_token = last
        sample.chunks = len(gaps) + (last is not None)
        if final is not None:
            _server_times(sample, final)

    async def aclose(self) -> None:
        await self.client.aclose()


def _server_times(sample: Sample, final: Any) -> None:
    """Ollama's counts and nanosecond durations from the `done` line (omitted when 0)."""
    sample.output_tokens = final.eval_count
    sample.prompt_tokens = final.prompt_eval_count
    sample.load_s = final.load_duration / NS
    sample.prompt_eval_s = final.prompt_eval_duration / NS
    sample.eval_s = final.eval_duration / NS
    sample.total_s = final.total_duration / NS


__all__ = ["Clock", "Endpoint", "OllamaEndpoint", "messages"]
