"""`plan(profile)` → `Plan`: the tag, context, KV cache and server settings that fit. Pure.

`_memory` models what a load needs (its measured constants in `_calibration`), `_server` what
each Ollama version does unasked, `_fit` what the machine offers, `_text` explains the choice.
"""

from ._fit import HEADROOM
from ._plan import Plan, plan, smaller_plan
from ._server import ServerFacts, server_facts

__all__ = ["HEADROOM", "Plan", "ServerFacts", "plan", "server_facts", "smaller_plan"]
