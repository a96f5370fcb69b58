"""Modelfiles on disk: stamped by qwenkit, so a rerun can tell its own file from a user's edit.

The last line of every Modelfile setup writes is `# qwenkit-digest: <hash of the lines above>`
(a comment, so Ollama and `Modelfile.parse` ignore it). Same text again → nothing to do; a file
whose stamp still matches was not touched by the user and may follow a new plan; a file whose
stamp no longer matches was edited, and is only replaced with `--force`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .._common.files import write_text_atomic
from ..errors import QwenkitError

STAMP_PREFIX = "# qwenkit-digest: "


def stamp(text: str) -> str:
    """Append the digest line that lets a later run tell its own file from a user's edit.

    >>> stamp("FROM x\\n").splitlines()[-1][:18]
    '# qwenkit-digest: '
    """
    body = text if text.endswith("\n") else text + "\n"
    return f"{body}{STAMP_PREFIX}{_digest(body)}\n"


def is_pristine(text: str) -> bool:
    """Whether `text` is exactly a file qwenkit stamped (no edit since it was written).

    >>> is_pristine(stamp("FROM x\\n")), is_pristine(stamp("FROM x\\n").replace("x", "y"))
    (True, False)
    """
    body, sep, last = text.rstrip("\n").rpartition("\n")
    if not sep or not last.startswith(STAMP_PREFIX):
        return False
    return last[len(STAMP_PREFIX) :].strip() == _digest(body + "\n")


def write_modelfile(path: Path, text: str, *, force: bool = False) -> str:
    """Write a stamped Modelfile; replace an older qwenkit file, keep a user's edit.

    Same text → `unchanged` (a rerun is a no-op). A file qwenkit wrote for another plan is
    `replaced`. A file whose stamp no longer matches was edited, and needs `force`.
    """
    stamped = stamp(text)
    if path.exists() and not force and not _ours(path, stamped):
        raise QwenkitError(
            f"{path} was edited since qwenkit wrote it; not overwriting your changes",
            hint="keep your edits with another --out directory, or overwrite with --force",
        )
    return write_text_atomic(path, stamped, force=True)


def _ours(path: Path, stamped: str) -> bool:
    """Whether the file on disk is `stamped` itself or another untouched qwenkit file.

    Compared as bytes, like `write_text_atomic`: a file re-saved with CRLF line endings or in
    another encoding counts as edited (and never crashes the comparison).
    """
    try:
        current = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    except OSError:
        return True  # unreadable: let write_text_atomic report it with a hint
    return current == stamped or is_pristine(current)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
