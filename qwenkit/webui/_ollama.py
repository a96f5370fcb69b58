"""What qwenkit reads from the Ollama side for the pairing: a model's baked `num_ctx` and system.

The preset's `num_ctx` must equal the one the running model was created with, so the value is
read from Ollama (`/api/show`), the one source that cannot be stale. Also: which addresses the
local Ollama listens on, read from `/proc/net/tcp*` (Linux), to tell "bound to loopback only"
apart from other reasons a container cannot connect.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._common.names import full_name
from ..client import Client
from ..errors import (
    ModelNotFoundError,
    OllamaError,
    OllamaTimeoutError,
    OllamaUnavailableError,
    ProtocolError,
    ResponseError,
    WebUIError,
)
from ..modelfile import parse_show_parameters

if TYPE_CHECKING:
    from ..types import ShowResponse
    from ._http import OpenWebUI


@dataclass(frozen=True)
class ModelSettings:
    """What an Ollama model was created with (only what the pairing needs)."""

    name: str
    num_ctx: int | None
    system: str | None


def settings_from_show(name: str, show: ShowResponse) -> ModelSettings:
    """Pure: the `num_ctx` and system prompt in an `/api/show` answer."""
    baked = parse_show_parameters(show.parameters or "").get("num_ctx")
    num_ctx = baked if isinstance(baked, int) and not isinstance(baked, bool) else None
    return ModelSettings(name, num_ctx, show.system or None)


def read_models(
    host: str, names: list[str], *, timeout: float = 10.0
) -> dict[str, ModelSettings | None]:
    """`/api/show` for each name: settings, or None for a model Ollama does not have.

    Goes through `qwenkit.Client`, like every other call to Ollama. Raises
    `OllamaUnavailableError` when Ollama does not answer usefully at `host` (refused, timed
    out, cut off), `WebUIError` for any other error answer.
    """

    found: dict[str, ModelSettings | None] = {}
    try:
        with Client(host, timeout=timeout) as ollama:
            for name in names:
                try:
                    found[name] = settings_from_show(name, ollama.show(name))
                except ModelNotFoundError:
                    found[name] = None
    except (OllamaTimeoutError, ProtocolError) as exc:
        raise OllamaUnavailableError(host, detail=str(exc)) from exc
    except ResponseError as exc:
        raise WebUIError(f"Ollama answered HTTP {exc.status_code}: {exc.message}") from exc
    return found


def read_models_through_webui(
    webui: OpenWebUI, names: list[str], *, timeout: float = 10.0
) -> dict[str, ModelSettings | None]:
    """Like `read_models`, from the Ollama Open WebUI is connected to: its `/ollama/` proxy.

    That is the server Open WebUI's chats go to, whatever `--host` or `OLLAMA_HOST` say.
    `/ollama/api/version` answers 500 when Open WebUI cannot reach its Ollama; a model it does
    not list is answered 400 by `/ollama/api/show`, so `/api/tags` is read first.
    """
    base = f"{webui.url}/ollama"
    found: dict[str, ModelSettings | None] = {}
    try:
        with Client(base, timeout=timeout, headers=webui.auth_header()) as ollama:
            ollama.version()
            listed = {full_name(m.model or m.name or "") for m in ollama.list().models}
            for name in names:
                show = ollama.show(name) if full_name(name) in listed else None
                found[name] = settings_from_show(name, show) if show is not None else None
    except OllamaError as exc:
        raise OllamaUnavailableError(base, detail=str(exc)) from exc
    return found


def listening_addresses(proc_net_tcp: str, port: int) -> list[str]:
    """Pure: the local addresses in a `/proc/net/tcp` or `tcp6` text that LISTEN on `port`.

    >>> listening_addresses("  sl local rem st\\n  0: 0100007F:2CAA 00000000:0000 0A", 11434)
    ['127.0.0.1']
    """
    out: list[str] = []
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A":
            continue
        address, _, port_hex = fields[1].partition(":")
        if int(port_hex, 16) == port:
            out.append(_decode_address(address))
    return out


def _decode_address(hex_address: str) -> str:
    """Kernel order: each 32-bit word little-endian."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def local_listen_addresses(port: int, proc: Path = Path("/proc/net")) -> list[str] | None:
    """Addresses this machine listens on for `port`; None where `/proc/net` is not there."""
    texts = [p.read_text() for p in (proc / "tcp", proc / "tcp6") if p.exists()]
    if not texts:
        return None
    return [a for text in texts for a in listening_addresses(text, port)]
