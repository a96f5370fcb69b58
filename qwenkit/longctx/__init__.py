"""A real 128K context: YaRN-rewrite the GGUF, upload it, create the long variant, prove it.

`yarn` rewrites the GGUF header (`_gguf_header`), `registry` downloads the base GGUF when
the server's copy is not on this disk, `_variant` builds the model, `_check` is the pass-key test.
"""

from ._variant import (
    CreateStatus,
    LongEvent,
    LongInputResult,
    LongVariantReady,
    PasskeyPrompt,
    StepNotice,
    StepProgress,
    StepSkipped,
    StepStarted,
    answer_has_passkey,
    blob_digest,
    build_long_variant,
    chat_template,
    create_body,
    extended_name,
    locate_local_gguf,
    long_input_check,
    passkey_prompt,
)
from .yarn import ContextInfo, extend_context, read_context_info

__all__ = [
    "ContextInfo",
    "CreateStatus",
    "LongEvent",
    "LongInputResult",
    "LongVariantReady",
    "PasskeyPrompt",
    "StepNotice",
    "StepProgress",
    "StepSkipped",
    "StepStarted",
    "answer_has_passkey",
    "blob_digest",
    "build_long_variant",
    "chat_template",
    "create_body",
    "extend_context",
    "extended_name",
    "locate_local_gguf",
    "long_input_check",
    "passkey_prompt",
    "read_context_info",
]
