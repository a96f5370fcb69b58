"""`plan(profile)` → `Plan`: the tag, context, KV cache and server settings that fit. Pure.

`_memory` models what a load needs, `_fit` what the machine offers, `_text` explains the choice.
"""

from ._fit import HEADROOM
from ._plan import Plan, plan, smaller_plan

__all__ = ["HEADROOM", "Plan", "plan", "smaller_plan"]
