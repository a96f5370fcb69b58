"""`qwenkit.yarn`, the public path of the YaRN GGUF rewrite (`qwenkit.longctx.yarn`)."""

from .longctx.yarn import ContextInfo, extend_context, read_context_info

__all__ = ["ContextInfo", "extend_context", "read_context_info"]
