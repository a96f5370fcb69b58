"""`qwenkit setup` as a library: `run_setup()` yields typed events and never prints.

The steps live in their own modules: `pull` (with retries), `_files` (the Modelfiles on disk),
`verify` (what Ollama actually loaded), `status`, `server_env` (server settings), `_long` (the
128K variant).
"""

from .._common.checks import Check
from ._run import SetupOptions, run_setup, webui_next_steps
from .events import (
    Cancelled,
    Event,
    ModelCreated,
    ModelfileWritten,
    Notice,
    Planned,
    Probed,
    Proposal,
    ServerReached,
    Summary,
)
from .verify import expected_model

__all__ = [
    "Cancelled",
    "Check",
    "Event",
    "ModelCreated",
    "ModelfileWritten",
    "Notice",
    "Planned",
    "Probed",
    "Proposal",
    "ServerReached",
    "SetupOptions",
    "Summary",
    "expected_model",
    "run_setup",
    "webui_next_steps",
]
