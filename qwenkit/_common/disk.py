"""The one free-space check: a file must fit with `DISK_MARGIN` to spare."""

from __future__ import annotations

from .units import format_bytes

#: kept free beyond what a download or a copy needs: Ollama's manifests, logs, the OS itself
DISK_MARGIN = 512 << 20


def short_of_space(free: int | None, need: int, what: str) -> str | None:
    """None when `need` bytes and the margin fit in `free` (None: unknown, allowed); else
    the message that says so.

    >>> short_of_space(None, 5 << 30, "x"), short_of_space(6 << 30, 5 << 30, "x")
    (None, None)
    >>> short_of_space(2 << 30, 5 << 30, "qwen2.5:7b")
    'not enough free disk for qwen2.5:7b: need 5.5 GiB with the margin, have 2.0 GiB'
    """
    if free is None or free >= need + DISK_MARGIN:
        return None
    return (
        f"not enough free disk for {what}: need {format_bytes(need + DISK_MARGIN)} with the "
        f"margin, have {format_bytes(free)}"
    )
