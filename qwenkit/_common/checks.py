"""One result type for everything qwenkit checks: setup's verification, `status`, `webui check`.

Each check says what it looked at (`name`, and the `model` when it is about one), what it saw
(`detail`), what it wanted when that matters (`expected`), the verdict (`status`) and, unless
it passed, what to do (`hint`). Only "fail" is a failure: a skipped check and a note are worth
reading but leave a report `ok`. `to_dict()` is the same JSON object in every command's
`--json` output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

Status = Literal["pass", "fail", "skip", "note"]


def verdict(ok: bool) -> Status:
    """ "pass" or "fail": the status of a check that either holds or does not."""
    return "pass" if ok else "fail"


@dataclass(frozen=True)
class Check:
    """One thing checked: its verdict, what was seen and, unless it passed, the fix."""

    kind: ClassVar[str] = "check"  # its event name in `qwenkit setup --json`
    name: str
    status: Status
    detail: str
    hint: str = ""
    model: str | None = None
    expected: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failing(checks: Iterable[Check]) -> list[Check]:
    """The checks that failed, in order; none means the report is ok."""
    return [c for c in checks if c.failed]
