"""The option names Ollama knows and how it types them: plain data, no pydantic.

Kept apart from `options.Options` so the Modelfile engine can type `PARAMETER` lines without
paying for pydantic at import time. Names and types follow `api.Options` in Ollama (v0.7.0
onwards; `draft_num_predict` is v0.30+).
"""

from __future__ import annotations

from typing import Literal

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

#: Names that Ollama's options no longer have (the server ignores them at run time), yet the
#: `ollama` client's `Options` still lists: the deprecated ones and three gone before v0.7.
RETIRED_OPTIONS: frozenset[str] = DEPRECATED_PARAMETERS | {"tfs_z", "numa", "embedding_only"}
