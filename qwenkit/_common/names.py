"""Ollama model names as the server lists them."""

from __future__ import annotations

from collections.abc import Iterable


def model_present(names: Iterable[str], model: str) -> bool:
    """Whether `model` is among local model names (case-insensitive, `:latest` implied).

    >>> model_present(["Qwen2.5:7B-Instruct-Q4_K_M"], "qwen2.5:7b-instruct-q4_K_M")
    True
    >>> model_present(["llama3:latest"], "llama3"), model_present(["llama3:8b"], "llama3")
    (True, False)
    """
    wanted = full_name(model.strip().lower())
    return any(full_name(name.strip().lower()) == wanted for name in names)


def full_name(model: str) -> str:
    """Ollama's listing name: an untagged model is `:latest` (a registry port is no tag).

    >>> full_name("qwenkit-chat"), full_name("qwen2.5:7b"), full_name("host:5000/me/m")
    ('qwenkit-chat:latest', 'qwen2.5:7b', 'host:5000/me/m:latest')
    """
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"
