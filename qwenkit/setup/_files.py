"""Modelfiles on disk: stamped by qwenkit, so a rerun can tell its own file from a user's edit.

The last line of every Modelfile qwenkit writes (setup, `qwenkit modelfile`, the repository's
`modelfiles/`) is `# qwenkit-digest: <hash of the lines above>` (a comment, so Ollama and
`Modelfile.parse` ignore it). Same text again → nothing to do; a file whose stamp still
matches was not touched by the user and may follow a new plan; a file whose stamp no longer
matches was edited: it is the user's intent, so setup keeps it and creates the variant from
it (`--force` puts the plan back).

Every target is inspected before the first byte is pulled (`inspect_target`), so a path that
cannot be written or an edited file Ollama would refuse stops the run while it costs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._common.files import write_text_atomic
from ..errors import QwenkitError
from ..modelfile import Modelfile
from ..variants import STAMP_PREFIX, is_pristine, stamp

__all__ = ["STAMP_PREFIX", "Target", "inspect_target", "is_pristine", "stamp", "write_modelfile"]

Action = Literal["create", "unchanged", "replace", "keep"]


@dataclass(frozen=True)
class Target:
    """What writing one Modelfile will do; `edited` is the user's file when it is kept."""

    path: Path
    text: str  # the stamped text qwenkit would write
    action: Action
    edited: Modelfile | None = None


def inspect_target(path: Path, text: str, *, force: bool = False) -> Target:
    """Decide, without writing, what happens to `path`; raise if it can never be written.

    An edited file is parsed here, so a syntax error is reported (with Ollama's line number)
    before anything is pulled.
    """
    stamped = stamp(text)
    try:
        current: bytes | None = path.read_bytes()
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise _unusable(path, exc) from exc
    if current is None:
        _check_directory(path.parent)
        return Target(path, stamped, "create")
    if current == stamped.encode("utf-8"):
        return Target(path, stamped, "unchanged")
    if force or _pristine_bytes(current):
        _check_directory(path.parent)
        return Target(path, stamped, "replace")
    try:
        edited = Modelfile.parse(current)
    except QwenkitError as err:
        raise QwenkitError(
            f"{path} was edited and Ollama would refuse it: {err}",
            hint="fix that line, or put the plan's Modelfile back with --force",
        ) from err
    return Target(path, stamped, "keep", edited)


def write_modelfile(path: Path, text: str, *, force: bool = False) -> str:
    """Write a stamped Modelfile; replace an older qwenkit file, keep a user's edit.

    Same text → `unchanged` (a rerun is a no-op). A file qwenkit wrote for another plan is
    `replaced`. A file whose stamp no longer matches was edited, and needs `force`.
    """
    target = inspect_target(path, text, force=force)
    if target.action == "keep":
        raise QwenkitError(
            f"{path} was edited since qwenkit wrote it; not overwriting your changes",
            hint="keep your edits with another --out directory, or overwrite with --force",
        )
    return write_target(target)


def write_target(target: Target) -> str:
    """Carry out an inspected target: `created`, `unchanged`, `replaced` or `kept`."""
    if target.action == "keep":
        return "kept"
    return write_text_atomic(target.path, target.text, force=True)


def _pristine_bytes(data: bytes) -> bool:
    try:
        return is_pristine(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False  # re-saved in another encoding: an edit


def _check_directory(directory: Path) -> None:
    """The directory exists and is writable, or can be created (nothing is created here)."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise _unusable(directory, NotADirectoryError(20, f"{probe} is not a directory"))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise _unusable(directory, PermissionError(13, f"{probe} is not writable"))


def _unusable(path: Path, exc: OSError) -> QwenkitError:
    return QwenkitError(
        f"cannot write {path}: {exc.strerror or exc}",
        hint="choose a writable directory with --out (nothing was pulled or written)",
    )
