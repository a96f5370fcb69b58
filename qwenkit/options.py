"""The model options Ollama knows, in one table used everywhere.

The Modelfile engine types `PARAMETER` lines with it (as `ollama create` does), and the
client validates `options=` against it before anything is sent — so a typo such as
`num_ctxx` fails loudly instead of being ignored by the server.
Names and types follow `api.Options` in Ollama (v0.7.0 onwards; `draft_num_predict` is v0.30+).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ParamKind = Literal["int", "float", "bool", "list"]

#: name -> how Ollama types the value (`list` is `stop`, one entry per PARAMETER line).
PARAMETER_KINDS: dict[str, ParamKind] = {
    "num_ctx": "int",
    "num_batch": "int",
    "num_gpu": "int",
    "main_gpu": "int",
    "use_mmap": "bool",
    "num_thread": "int",
    "draft_num_predict": "int",
    "num_keep": "int",
    "seed": "int",
    "num_predict": "int",
    "top_k": "int",
    "top_p": "float",
    "min_p": "float",
    "typical_p": "float",
    "repeat_last_n": "int",
    "temperature": "float",
    "repeat_penalty": "float",
    "presence_penalty": "float",
    "frequency_penalty": "float",
    "stop": "list",
}

#: Accepted by `ollama create` with a warning, then dropped.
DEPRECATED_PARAMETERS: frozenset[str] = frozenset(
    {
        "penalize_newline",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mlock",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
    }
)


class Options(BaseModel):
    """Per-request model options, checked before sending: unknown keys and wrong types fail.

    Strict typing mirrors the server, which rejects `"num_ctx": "8192"` at run time.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    num_ctx: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    use_mmap: bool | None = None
    num_thread: int | None = None
    draft_num_predict: int | None = None
    num_keep: int | None = None
    seed: int | None = None
    num_predict: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    typical_p: float | None = None
    repeat_last_n: int | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = None
