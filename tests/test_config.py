import pytest

from qwenkit._common.config import auth_headers, parse_host, resolve_host
from qwenkit.errors import QwenkitError


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


def test_invalid_port_is_a_clear_error():
    with pytest.raises(QwenkitError, match="invalid port"):
        parse_host("localhost:99999")


def test_explicit_host_wins_over_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:1234")
    assert resolve_host() == "http://10.0.0.5:1234"
    assert resolve_host("gpu-box") == "http://gpu-box:11434"


def test_bearer_auth_only_when_key_is_set(monkeypatch):
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    assert auth_headers() == {}
    monkeypatch.setenv("OLLAMA_API_KEY", "secret")
    assert auth_headers() == {"Authorization": "Bearer secret"}
