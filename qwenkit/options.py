"""The model options Ollama knows, in one table used everywhere.

The Modelfile engine types `PARAMETER` lines with it (as `ollama create` does), and the
client validates `options=` against it before anything is sent — so a typo such as
`num_ctxx` fails loudly instead of being ignored by the server.
The table itself lives in `_params` (pydantic-free); this module adds the strict model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ._common.params import DEPRECATED_PARAMETERS, PARAMETER_KINDS, ParamKind


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


__all__ = ["DEPRECATED_PARAMETERS", "PARAMETER_KINDS", "Options", "ParamKind"]
