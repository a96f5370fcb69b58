"""Writing files the way users expect: atomically, and never over their edits without --force."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal

from ..errors import QwenkitError

WriteResult = Literal["created", "unchanged", "replaced"]


def write_text_atomic(path: Path, text: str, *, force: bool = False) -> WriteResult:
    """Write `text` (as UTF-8, line endings as given) to `path` via a temporary file and a rename.

    An existing file with the same bytes is left alone; a different one (even if it differs
    only in line endings or encoding) is replaced only with `force`, otherwise `QwenkitError`
    says so and nothing is touched. An OS failure is a `QwenkitError` naming the path.
    """
    path = Path(path)
    data = text.encode("utf-8")
    try:
        current: bytes | None = path.read_bytes()
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    if current == data:
        return "unchanged"
    if current is not None and not force:
        raise QwenkitError(
            f"{path} exists and differs from what qwenkit would write",
            hint="keep your edits, write elsewhere with -o/--out, or overwrite with --force",
        )
    try:
        _replace(path, data, keep_mode=current is not None)
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    return "created" if current is None else "replaced"


@contextmanager
def atomic_file(path: Path, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` whole or not at all: written beside it, fsynced,
    then renamed over it, so neither a reader nor a crash ever sees half of it. On any error
    (or Ctrl-C) the temporary file is removed and `path` is untouched.

    The file is created 0600 (a secret is never readable by others, not even briefly);
    `mode` sets the final permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _replace(path: Path, data: bytes, *, keep_mode: bool) -> None:
    mode = path.stat().st_mode & 0o777 if keep_mode else _default_mode()
    with atomic_file(path, mode=mode) as fh:  # a Modelfile is not a secret: the usual mode
        fh.write(data)


def _cannot_write(path: Path, exc: OSError) -> QwenkitError:
    return QwenkitError(
        f"cannot write {path}: {exc.strerror or exc}",
        hint="choose a writable location with -o/--out, or fix the directory's permissions",
    )


def _default_mode() -> int:
    """0666 less the process umask: what a plain `open(path, "w")` would create."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
