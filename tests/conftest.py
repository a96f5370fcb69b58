"""Shared test setup: every test starts from a clean Ollama-related environment."""

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    for name in ("OLLAMA_HOST", "OLLAMA_API_KEY", "OLLAMA_MODELS", "OPEN_WEBUI_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _hypothesis_profiles() -> None:
    """CI runs the property tests with a fixed seed, so a landing never depends on luck;
    locally they stay random (and `HYPOTHESIS_PROFILE=deep` searches much harder)."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    settings.register_profile("deep", max_examples=2000)
    default = "ci" if os.environ.get("CI") else "default"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


_hypothesis_profiles()
