"""Shared test setup: every test starts from a clean Ollama-related environment."""

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    for name in ("OLLAMA_HOST", "OLLAMA_API_KEY", "OLLAMA_MODELS", "OPEN_WEBUI_TOKEN"):
        monkeypatch.delenv(name, raising=False)
