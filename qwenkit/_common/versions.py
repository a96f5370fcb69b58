"""Ollama version strings, parsed once for every module that compares them."""

from __future__ import annotations

import re

Version = tuple[int, int, int]


def parse_version(text: str | None) -> Version | None:
    """`0.33.0-rc2` → (0, 33, 0); None for a version that does not look like one.

    >>> parse_version("0.33.0-rc2"), parse_version("v0.9.3"), parse_version("dev")
    ((0, 33, 0), (0, 9, 3), None)
    """
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", (text or "").strip())
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def dotted(version: Version) -> str:
    """(0, 13, 4) → "0.13.4"."""
    return ".".join(map(str, version))
