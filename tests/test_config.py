import re

import pytest

from qwenkit._common.config import auth_headers, parse_host, resolve_host
from qwenkit.errors import InvalidRequestError, QwenkitError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("1.2.3.4", "http://1.2.3.4:11434"),
        (":56789", "http://127.0.0.1:56789"),
        ("1.2.3.4:56789", "http://1.2.3.4:56789"),
        ("http://1.2.3.4", "http://1.2.3.4:80"),
        ("https://1.2.3.4", "https://1.2.3.4:443"),
        ("https://example.com:56789", "https://example.com:56789"),
        ("example.com/", "http://example.com:11434"),
        ("example.com/path", "http://example.com:11434/path"),
        ("example.com:56789/path/", "http://example.com:56789/path"),
        ("[0001:002:003:0004::1]", "http://[0001:002:003:0004::1]:11434"),
        ("https://[0001:002:003:0004::1]:56789/path", "https://[0001:002:003:0004::1]:56789/path"),
        ("::1", "http://[::1]:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("[::]:11434", "http://[::1]:11434"),
        ("  'localhost:11434'  ", "http://localhost:11434"),
    ],
)
def test_parse_host_follows_the_official_client_plus_loopback(value, expected):
    assert parse_host(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("localhost:99999", "port must be a number from 0 to 65535"),
        ("http://127.0.0.1:99999", "port must be a number from 0 to 65535"),
        ("127.0.0.1:-1", "port must be a number from 0 to 65535"),
        ("127.0.0.1:http", "port must be a number"),
        ("127.0.0.1:", "':' without a port"),
        (":::", "not an IPv6 address"),
        ("[::1", "'[' without a closing ']'"),
        ("http://[::1", "'[' without a closing ']'"),
        ("[nonsense]:1", "not an IPv6 address"),
        ("[::1]x", "unexpected"),
        ("::1]", "']' without an opening '['"),
        ("http://", "no host after the scheme"),
        ("https:///path", "no host after the scheme"),
        ("ftp://host", "the scheme must be http or https"),
        ("bad host", "no spaces"),
        ("host?x=1", "'?'"),
        ("user:pw@host", "'@'"),
        ("-host", "not a valid host name"),
        ("a" * 64 + ".example", "not a valid host name"),
        ("9" * 5000, "not a valid host name"),
    ],
)
def test_a_host_that_can_never_be_dialled_is_a_usage_error(value, reason):
    with pytest.raises(InvalidRequestError, match=re.escape(reason)) as caught:
        parse_host(value)
    assert isinstance(caught.value, QwenkitError) and isinstance(caught.value, ValueError)
    assert caught.value.exit_code == 2
    assert "127.0.0.1:11434" in (caught.value.hint or "")
    assert len(str(caught.value)) < 200  # a huge value is not echoed whole


def test_the_environment_is_named_when_it_is_the_culprit(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "[::1")
    with pytest.raises(InvalidRequestError, match="invalid OLLAMA_HOST"):
        resolve_host()
    with pytest.raises(InvalidRequestError, match="invalid Ollama host"):
        resolve_host("[::1")


def test_names_ollama_would_dial_are_kept():
    assert parse_host("gpu_box.lan:8080") == "http://gpu_box.lan:8080"
    assert parse_host("bücher.example") == "http://bücher.example:11434"
    assert parse_host("HTTP://Example.com") == "http://Example.com:80"


def test_explicit_host_wins_over_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:1234")
    assert resolve_host() == "http://10.0.0.5:1234"
    assert resolve_host("gpu-box") == "http://gpu-box:11434"


def test_bearer_auth_only_when_key_is_set(monkeypatch):
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    assert auth_headers() == {}
    monkeypatch.setenv("OLLAMA_API_KEY", "secret")
    assert auth_headers() == {"Authorization": "Bearer secret"}
