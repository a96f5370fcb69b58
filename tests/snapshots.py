"""JSON snapshots: a test compares a `to_dict()` with a reviewed file instead of restating it.

`QWENKIT_UPDATE_SNAPSHOTS=1 pytest ...` rewrites the files; review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).parent / "fixtures" / "snapshots"


def assert_snapshot(name: str, data: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("QWENKIT_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: record it with QWENKIT_UPDATE_SNAPSHOTS=1"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), (
        f"{path.name} changed; if that is intended, rerun with QWENKIT_UPDATE_SNAPSHOTS=1"
    )
