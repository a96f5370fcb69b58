"""The one byte formatter, for every message and table that shows a size."""

from __future__ import annotations


def format_bytes(n: float) -> str:
    """Binary units, one decimal: `4.4 GiB`.

    >>> format_bytes(4_683_073_952), format_bytes(512), format_bytes(1536)
    ('4.4 GiB', '512 B', '1.5 KiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
