"""A test helper: record `os.fsync` and `os.replace` calls, to prove "fsync, then rename".

Both carry the inode they act on, so a test can check that the very file that was fsynced is
the one renamed into place — the order that makes a crash right after the rename harmless.
"""

from __future__ import annotations

import os

import pytest


def fsync_rename_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Patch `os.fsync`/`os.replace` to log `("fsync" | "rename", inode)`; return the log."""
    log: list[tuple[str, int]] = []
    fsync, replace = os.fsync, os.replace

    def logged_fsync(fd: int) -> None:
        log.append(("fsync", os.fstat(fd).st_ino))
        fsync(fd)

    def logged_replace(src: str, dst: str) -> None:
        log.append(("rename", os.stat(src).st_ino))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    return log
