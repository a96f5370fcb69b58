"""Writing a deployment: compose files atomically, the API key into a 0600 env file.

The key is generated once (`secrets.token_urlsafe`, 256 bits) and kept on later runs, so
regenerating the compose files never locks Open WebUI or scripts out. It is never returned,
printed or logged: callers get the env file's path.
"""

from __future__ import annotations

import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .._common.files import WriteResult, atomic_file, write_text_atomic
from ..errors import QwenkitError
from .compose import Deployment

KEY_VARIABLES = ("VLLM_API_KEY", "OPENAI_API_KEYS")
SECRET_MODE = 0o600


@dataclass(frozen=True)
class Written:
    """One file `write_deployment` wrote or left alone."""

    path: Path
    result: WriteResult


def write_deployment(deploy: Deployment, out_dir: Path, *, force: bool = False) -> list[Written]:
    """Write every compose file and the env file into `out_dir`; the key stays inside it."""
    out_dir = Path(out_dir)
    written = [_write_env(out_dir / deploy.env_file)]
    for compose in deploy.files:
        path = out_dir / compose.name
        written.append(Written(path, write_text_atomic(path, compose.text, force=force)))
    return written


def read_api_key(env_file: Path) -> str | None:
    """The key in an env file written by `write_deployment`, or None (for clients and tests)."""
    try:
        text = Path(env_file).read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == KEY_VARIABLES[0] and value.strip():
            return value.strip()
    return None


def _write_env(path: Path) -> Written:
    key = read_api_key(path)
    if key is not None:
        _tighten(path)
        return Written(path, "unchanged")
    if path.exists():
        raise QwenkitError(
            f"{path} exists but holds no VLLM_API_KEY",
            hint="remove it, or write the deployment elsewhere with -o",
        )
    key = secrets.token_urlsafe(32)
    lines = [
        "# Written by `qwenkit deploy vllm`. Secret: the API key of the vLLM server.",
        *(f"{name}={key}" for name in KEY_VARIABLES),
    ]
    _write_secret(path, "\n".join(lines) + "\n")
    return Written(path, "created")


def _write_secret(path: Path, text: str) -> None:
    """Create `path` with mode 0600 from the start (never world-readable, not even briefly)."""
    try:
        with atomic_file(path) as fh:  # created 0600, and it stays so
            fh.write(text.encode("utf-8"))
    except OSError as exc:
        raise QwenkitError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="choose a writable directory with -o",
        ) from exc


def _tighten(path: Path) -> None:
    """An existing key file readable by others is narrowed to 0600."""
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(SECRET_MODE)
    except OSError as exc:
        raise QwenkitError(f"cannot restrict {path} to its owner: {exc.strerror or exc}") from exc
