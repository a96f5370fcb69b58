"""The one plan renderer: `probe` and `setup` show a plan in the same rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._common.units import format_bytes

WIDTH = 12
RUNS_ON = {"gpu": "GPU (fully offloaded)", "partial": "GPU + CPU (partial offload)", "cpu": "CPU"}


def plan_lines(plan: Mapping[str, Any]) -> list[str]:
    """`Plan.to_dict()` (what `--json` carries, and setup's `plan` event) as the "Plan" rows,
    then "Why" and "Warnings"."""
    lines = ["Plan", *rows(plan_rows(plan))]
    for title, items in (("Why", plan["reasons"]), ("Warnings", plan["warnings"])):
        if items:
            lines += [title, *(f"  - {item}" for item in items)]
    return lines


def plan_rows(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    est, budget = plan["estimate"], plan.get("budget_bytes")
    of = f" of {_b(budget)}" if budget is not None else ""
    yarn = "  (needs a YaRN variant)" if plan["needs_yarn"] else ""
    attention = "on" if plan["flash_attention"] else "off"
    return [
        ("Tag", plan["tag"]),
        ("Context", f"{plan['num_ctx']} tokens{yarn}"),
        ("KV cache", f"{plan['kv_cache_type']}, flash attention {attention}"),
        ("Runs on", RUNS_ON[plan["offload"]]),
        (
            "Memory",
            f"{_b(est['total_bytes'])}{of}: weights {_b(est['weights_bytes'])}, KV "
            f"{_b(est['kv_cache_bytes'])}, compute {_b(est['compute_bytes'])}, overhead "
            f"{_b(est['overhead_bytes'])}",
        ),
        ("Server env", " ".join(f"{k}={v}" for k, v in plan["server_env"].items())),
    ]


def rows(pairs: list[tuple[str, str]]) -> list[str]:
    """Aligned `label value` rows."""
    return [f"  {label:<{WIDTH}} {value}" for label, value in pairs]


def _b(n: int | None) -> str:
    return "unknown" if n is None else format_bytes(n)
