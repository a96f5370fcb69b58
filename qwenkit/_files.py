"""Writing files the way users expect: atomically, and never over their edits without --force."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from .errors import QwenkitError

WriteResult = Literal["created", "unchanged", "replaced"]


def write_text_atomic(path: Path, text: str, *, force: bool = False) -> WriteResult:
    """Write `text` to `path` via a temporary file and a rename.

    An existing file with the same text is left alone; a different one is replaced only with
    `force`, otherwise `QwenkitError` says so and nothing is touched.
    """
    path = Path(path)
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return "unchanged"
        if not force:
            raise QwenkitError(
                f"{path} exists and differs from what qwenkit would write",
                hint="keep your edits, write elsewhere with -o/--out, or overwrite with --force",
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    result: WriteResult = "replaced" if path.exists() else "created"
    mode = path.stat().st_mode & 0o777 if path.exists() else _default_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # mkstemp makes 0600; a Modelfile is not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


def _default_mode() -> int:
    """0666 less the process umask: what a plain `open(path, "w")` would create."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
