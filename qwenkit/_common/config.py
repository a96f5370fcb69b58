"""Where Ollama is and how to talk to it: shared by the client, the probe and the setup.

`OLLAMA_HOST` is read with the official Python client's rules (scheme-dependent default port,
IPv6, a path prefix). Two fixes on top: surrounding quotes and blanks are stripped, as Ollama's
own `envconfig` does, and a bind-all address (`0.0.0.0`, `::`) — the value a user sets so the
*server* listens everywhere — is turned into loopback, because a client cannot dial it everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping

from ..errors import InvalidRequestError

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_PORT = 11434

_BIND_ALL = {"0.0.0.0": "127.0.0.1", "::": "::1"}
_SCHEME_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
HOST_HINT = "use host[:port] or http(s)://host[:port][/path], e.g. 127.0.0.1:11434"


def parse_host(value: str | None, *, what: str = "Ollama host") -> str:
    """Turn an `OLLAMA_HOST`-style value into a base URL a client can connect to.

    The one place hosts are checked: every command, `OLLAMA_HOST` and `qwenkit.Client` use it.
    A value that can never be dialled (bad brackets, a port out of range, a scheme without a
    host, a character no host name has) raises `InvalidRequestError` naming `what`.

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
    >>> parse_host('http://[::1')
    Traceback (most recent call last):
    qwenkit.errors.InvalidRequestError: invalid Ollama host 'http://[::1': '[' without a closing ']'
    """
    return _parse_url(value, what=what, default_port=DEFAULT_PORT, hint=HOST_HINT)


def parse_url(value: str, *, what: str, example: str) -> str:
    """An HTTP(S) base URL given by the user (Open WebUI's address), checked like a host.

    Without a scheme it is `http://`; without a port, the scheme's.

    >>> parse_url('localhost:3000', what='--url', example='http://localhost:3000')
    'http://localhost:3000'
    >>> parse_url('https://owui.example', what='--url', example='http://localhost:3000')
    'https://owui.example:443'
    """
    if not value.strip():
        raise InvalidRequestError(f"{what} is empty", hint=f"give a URL, e.g. {example}")
    return _parse_url(value, what=what, default_port=80, hint=f"give a URL such as {example}")


def _parse_url(value: str | None, *, what: str, default_port: int, hint: str) -> str:
    raw = (value or "").strip().strip("\"'").strip()

    def bad(reason: str) -> InvalidRequestError:
        return InvalidRequestError(f"invalid {what} {_shorten(value or '')!r}: {reason}", hint=hint)

    scheme, sep, rest = raw.partition("://")
    scheme = scheme.lower()
    if not sep:
        scheme, rest = "http", raw
    elif scheme not in _SCHEME_PORTS:
        raise bad(f"the scheme must be http or https, not {_shorten(scheme)!r}")
    if not rest.isprintable() or any(c in rest for c in " ?#@\\"):
        raise bad("a host has no spaces, control characters, '?', '#', '@' or '\\'")
    hostport, _, path = _cut_path(rest)
    host, port_text = _split_hostport(hostport, bad)
    if not host:
        if sep and not port_text:
            raise bad("no host after the scheme")
        host = "127.0.0.1"
    port = _port(port_text, bad) if port_text else _SCHEME_PORTS[scheme] if sep else default_port
    host = _BIND_ALL.get(host, host)
    _check_host_name(host, bad)
    if _is_ipv6(host):
        host = f"[{host}]"
    base = f"{scheme}://{host}:{port}"
    path = path.strip("/")
    return f"{base}/{path}" if path else base


def _cut_path(rest: str) -> tuple[str, str, str]:
    """`host:port/path` → (`host:port`, `/`, `path`); a bare IPv6 `::1/p` keeps its colons."""
    if rest.startswith("["):
        close = rest.find("]")
        cut = rest.find("/", close if close >= 0 else 0)
    else:
        cut = rest.find("/")
    return (rest, "", "") if cut < 0 else (rest[:cut], "/", rest[cut + 1 :])


def _split_hostport(hostport: str, bad: Callable[[str], InvalidRequestError]) -> tuple[str, str]:
    """(`host`, `port` text); brackets and bare IPv6 addresses handled as Ollama does."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise bad("'[' without a closing ']'")
        host, after = hostport[1:close], hostport[close + 1 :]
        if after and not after.startswith(":"):
            raise bad(f"unexpected {_shorten(after)!r} after ']'")
        if not _is_ipv6(host):
            raise bad(f"{_shorten(host)!r} in brackets is not an IPv6 address")
        return host, after[1:]
    if "]" in hostport:
        raise bad("']' without an opening '['")
    if hostport.count(":") >= 2:
        if not _is_ipv6(hostport):
            raise bad("not an IPv6 address (write one as [::1]:11434)")
        return hostport, ""
    host, _, port = hostport.partition(":")
    if ":" in hostport and not port:
        raise bad("':' without a port")
    return host, port


def _port(text: str, bad: Callable[[str], InvalidRequestError]) -> int:
    # 0-65535 as Ollama's envconfig reads it (0 dials nothing: "cannot reach", exit 3)
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise bad(f"the port must be a number from 0 to 65535, not {_shorten(text)!r}")
    return int(text)


def _check_host_name(host: str, bad: Callable[[str], InvalidRequestError]) -> None:
    """An IP address, or a DNS name (IDNA allowed) whose labels a resolver accepts."""
    if _is_ipv6(host) or _is_ip(host):
        return
    try:
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise bad("not a valid host name") from None
    labels = ascii_name.rstrip(".").split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise bad("not a valid host name")


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def resolve_host(host: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The base URL to use: an explicit `host` wins, then `OLLAMA_HOST`, then the default.

    `env` replaces `os.environ` (the probe takes an injected environment).
    """
    if host:
        return parse_host(host)
    return parse_host((os.environ if env is None else env).get("OLLAMA_HOST"), what="OLLAMA_HOST")


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


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def openai_base(url: str, *, what: str = "base_url") -> str:
    """An OpenAI-compatible API's base URL: `http(s)://host[:port]/path`, `/v1` added when no
    path is given. `what` names the argument in the error; the host is checked as every
    host is (`parse_host`'s rules).

    >>> openai_base("http://127.0.0.1:8000"), openai_base("https://gpu.local/v1/")
    ('http://127.0.0.1:8000/v1', 'https://gpu.local/v1')
    >>> openai_base("localhost:8000", what="--openai")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    qwenkit.errors.InvalidRequestError: --openai needs an http:// or https:// URL, got ...
    """
    hint = "e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)"
    text = url.strip()
    if text.partition("://")[0].lower() not in _SCHEME_PORTS or "://" not in text:
        raise InvalidRequestError(
            f"{what} needs an http:// or https:// URL, got {_shorten(url)!r}", hint=hint
        )
    _parse_url(text, what=what, default_port=80, hint=hint)
    split = urllib.parse.urlsplit(text)
    path = split.path.rstrip("/") or "/v1"
    return urllib.parse.urlunsplit((split.scheme, split.netloc, path, "", ""))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
