"""Where Ollama is and how to talk to it: shared by the client, the probe and the setup.

`OLLAMA_HOST` is read with the official Python client's rules (scheme-dependent default port,
IPv6, a path prefix). Two fixes on top: surrounding quotes and blanks are stripped, as Ollama's
own `envconfig` does, and a bind-all address (`0.0.0.0`, `::`) — the value a user sets so the
*server* listens everywhere — is turned into loopback, because a client cannot dial it everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping

from ..errors import QwenkitError

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_PORT = 11434

_BIND_ALL = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def parse_host(value: str | None) -> str:
    """Turn an `OLLAMA_HOST`-style value into a base URL a client can connect to.

    >>> parse_host(None)
    'http://127.0.0.1:11434'
    >>> parse_host(':56789')
    'http://127.0.0.1:56789'
    >>> parse_host('example.com')
    'http://example.com:11434'
    >>> parse_host('http://example.com')
    'http://example.com:80'
    >>> parse_host('https://example.com:56789/path/')
    'https://example.com:56789/path'
    >>> parse_host('[::1]:8080')
    'http://[::1]:8080'
    >>> parse_host('::1')
    'http://[::1]:11434'
    >>> parse_host('0.0.0.0')
    'http://127.0.0.1:11434'
    >>> parse_host('"0.0.0.0:11434"')
    'http://127.0.0.1:11434'
    >>> parse_host('http://[::]:11434')
    'http://[::1]:11434'
    """
    raw = (value or "").strip().strip("\"'").strip()
    scheme, sep, hostport = raw.partition("://")
    if not sep:
        scheme, hostport = "http", raw
    default_port = {"http": 80, "https": 443}.get(scheme, DEFAULT_PORT) if sep else DEFAULT_PORT
    hostport = _bracket_bare_ipv6(hostport)
    split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
    try:
        port = split.port or default_port
    except ValueError as exc:
        raise QwenkitError(
            f"invalid port in Ollama host {value!r}",
            hint="use host:port with a port from 1 to 65535, e.g. 127.0.0.1:11434",
        ) from exc
    host = split.hostname or "127.0.0.1"
    host = _BIND_ALL.get(host, host)
    if _is_ipv6(host):
        host = f"[{host}]"
    base = f"{scheme}://{host}:{port}"
    path = split.path.strip("/")
    return f"{base}/{path}" if path else base


def resolve_host(host: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The base URL to use: an explicit `host` wins, then `OLLAMA_HOST`, then the default.

    `env` replaces `os.environ` (the probe takes an injected environment).
    """
    return parse_host(host if host else (os.environ if env is None else env).get("OLLAMA_HOST"))


def auth_headers() -> dict[str, str]:
    """Bearer auth for remote servers, from `OLLAMA_API_KEY` when it is set."""
    key = os.environ.get("OLLAMA_API_KEY", "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def is_local_host(base_url: str) -> bool:
    """Whether a base URL points at this machine (loopback or `localhost`).

    >>> is_local_host('http://127.0.0.1:11434'), is_local_host('http://gpu-box:11434')
    (True, False)
    """
    host = urllib.parse.urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bracket_bare_ipv6(hostport: str) -> str:
    """`::1` or `::1/path` → `[::1]/path`, so urlsplit does not read a port out of it."""
    head, slash, rest = hostport.partition("/")
    if head.count(":") >= 2 and not head.startswith("["):
        return f"[{head}]{slash}{rest}"
    return hostport


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def openai_base(url: str, *, what: str = "base_url") -> str:
    """An OpenAI-compatible API's base URL: `http(s)://host[:port]/path`, `/v1` added when no
    path is given. `what` names the argument in the error.

    >>> openai_base("http://127.0.0.1:8000"), openai_base("https://gpu.local/v1/")
    ('http://127.0.0.1:8000/v1', 'https://gpu.local/v1')
    >>> openai_base("localhost:8000", what="--openai")
    Traceback (most recent call last):
    qwenkit.errors.QwenkitError: --openai needs an http:// or https:// URL, got 'localhost:8000'
    """
    text = url.strip()
    try:
        split = urllib.parse.urlsplit(text)
        _ = split.port
    except ValueError:
        split = None
    if split is None or split.scheme not in ("http", "https") or not split.hostname:
        raise QwenkitError(
            f"{what} needs an http:// or https:// URL, got {url!r}",
            hint="e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)",
        )
    path = split.path.rstrip("/") or "/v1"
    return urllib.parse.urlunsplit((split.scheme, split.netloc, path, "", ""))
