"""Several Ollama hosts behind one Open WebUI: do they hold the same variants?

Open WebUI 0.12.4 merges models of the same name from every `OLLAMA_BASE_URLS` backend and
picks one at random per request (observed), so a variant missing on a host, or with another
`num_ctx` there, shows up as requests that skip a host or reload the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import OllamaUnavailableError
from ._ollama import read_models


def hosts_disagree(hosts: Sequence[str], names: list[str]) -> list[str]:
    """Read `names` from every host and say where they differ (a host that does not answer is
    named too)."""
    held: dict[str, dict[str, int | None]] = {}
    out = []
    for host in hosts:
        try:
            found = read_models(host, names)
        except OllamaUnavailableError:
            out.append(f"Ollama at {host} did not answer: it could not be compared")
            continue
        held[host] = {name: s.num_ctx for name, s in found.items() if s is not None}
    return out + disagreements(held)


def disagreements(variants: Mapping[str, Mapping[str, int | None]]) -> list[str]:
    """Where hosts differ: `variants` maps host -> {variant name: num_ctx or None}.

    >>> disagreements({"a": {"qwenkit-chat": 32768}, "b": {"qwenkit-chat": 16384}})
    ['qwenkit-chat: num_ctx differs between hosts (a 32768, b 16384); Open WebUI picks a host per request, so the model reloads']
    >>> disagreements({"a": {"qwenkit-chat": 32768}, "b": {}})
    ['qwenkit-chat is missing on b: Open WebUI sends its requests only to a']
    """  # noqa: E501
    names = sorted({name for held in variants.values() for name in held})
    out = []
    for name in names:
        have = {host: held[name] for host, held in variants.items() if name in held}
        missing = [host for host in variants if host not in have]
        if missing:
            out.append(
                f"{name} is missing on {', '.join(missing)}: Open WebUI sends its requests only "
                f"to {', '.join(have)}"
            )
        if len(set(have.values())) > 1:
            each = ", ".join(f"{host} {ctx}" for host, ctx in have.items())
            out.append(
                f"{name}: num_ctx differs between hosts ({each}); Open WebUI picks a host per "
                "request, so the model reloads"
            )
    return out
