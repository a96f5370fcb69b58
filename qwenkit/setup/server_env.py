"""The exact lines that give the Ollama *server* the settings a plan needs.

Settings such as `OLLAMA_FLASH_ATTENTION` or `OLLAMA_KV_CACHE_TYPE` are read by `ollama serve`
at start-up, not per request, so the plan can only tell the user how to set them. Each service
manager wants its own syntax and quoting; getting that wrong means the server silently runs
without the setting, so the lines are generated here and tested, not hand-written in the CLI.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Literal

from .._common.versions import parse_version
from ..errors import QwenkitError
from ..planner import server_facts

Platform = Literal["linux", "darwin", "windows"]

SYSTEMD_DROPIN = "/etc/systemd/system/ollama.service.d/override.conf"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EnvInstructions:
    """How to set `env` for one service manager: a file to write (if any) and commands."""

    platform: Platform
    title: str
    commands: tuple[str, ...]
    file_path: str | None = None
    file_text: str | None = None
    note: str = ""

    def lines(self) -> list[str]:
        """Everything a user types or writes, in order, as plain lines."""
        out: list[str] = []
        if self.file_path and self.file_text is not None:
            out.append(f"# {self.file_path}")
            out.extend(self.file_text.rstrip("\n").splitlines())
        out.extend(self.commands)
        return out


@dataclass(frozen=True)
class ServerEnvGuide:
    """The settings plus the instructions for every platform."""

    env: dict[str, str]
    instructions: tuple[EnvInstructions, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "env": dict(self.env),
            "instructions": {i.platform: i.lines() for i in self.instructions},
        }


def check_env(env: dict[str, str]) -> dict[str, str]:
    """Reject names and values that no service manager can carry safely.

    >>> check_env({"OLLAMA_FLASH_ATTENTION": 1})
    {'OLLAMA_FLASH_ATTENTION': '1'}
    """
    checked: dict[str, str] = {}
    for name, value in env.items():
        text = _stringify(value)
        if not _NAME.match(name):
            raise QwenkitError(f"invalid environment variable name {name!r}")
        if "\n" in text or "\r" in text or "\0" in text:
            raise QwenkitError(f"environment value for {name} contains a line break or NUL")
        checked[name] = text
    return checked


def systemd_override(env: dict[str, str]) -> EnvInstructions:
    """A drop-in for the Linux service the install script creates (`ollama.service`).

    >>> print(systemd_override({"OLLAMA_KV_CACHE_TYPE": "q8_0"}).file_text, end="")
    [Service]
    Environment="OLLAMA_KV_CACHE_TYPE=q8_0"
    """
    env = check_env(env)
    body = "[Service]\n" + "".join(
        f'Environment="{_systemd_escape(f"{k}={v}")}"\n' for k, v in env.items()
    )
    return EnvInstructions(
        platform="linux",
        title="Linux (systemd)",
        file_path=SYSTEMD_DROPIN,
        file_text=body,
        commands=(
            "sudo systemctl edit ollama.service   # paste the [Service] block above",
            "sudo systemctl daemon-reload",
            "sudo systemctl restart ollama",
        ),
        note="`systemctl edit` writes the drop-in file shown; a restart applies it.",
    )


def launchd_commands(env: dict[str, str]) -> EnvInstructions:
    """`launchctl setenv` for the macOS app, which reads the launchd environment at start.

    >>> launchd_commands({"OLLAMA_FLASH_ATTENTION": "1"}).commands[0]
    'launchctl setenv OLLAMA_FLASH_ATTENTION 1'
    """
    env = check_env(env)
    commands = tuple(f"launchctl setenv {k} {shlex.quote(v)}" for k, v in env.items())
    return EnvInstructions(
        platform="darwin",
        title="macOS (launchd)",
        commands=(*commands, "# then quit Ollama from the menu bar and start it again"),
        note="launchctl settings last until reboot; repeat them after a restart.",
    )


def windows_commands(env: dict[str, str]) -> EnvInstructions:
    """`setx` for the current user; the tray app reads it when it starts again.

    >>> windows_commands({"OLLAMA_KV_CACHE_TYPE": "q8_0"}).commands[0]
    'setx OLLAMA_KV_CACHE_TYPE "q8_0"'
    """
    env = check_env(env)
    for name, value in env.items():
        if '"' in value or "%" in value:
            raise QwenkitError(f"the value of {name} cannot be passed to setx safely: {value!r}")
    commands = tuple(f'setx {k} "{v}"' for k, v in env.items())
    return EnvInstructions(
        platform="windows",
        title="Windows (setx)",
        commands=(*commands, "# then quit Ollama from the system tray and start it again"),
        note="setx affects new processes only; open a new terminal as well.",
    )


def server_env_guide(env: dict[str, str]) -> ServerEnvGuide:
    """All three platforms' instructions for the plan's `server_env` (empty env → none)."""
    checked = check_env(env)
    if not checked:
        return ServerEnvGuide(env={})
    return ServerEnvGuide(
        env=checked,
        instructions=(
            systemd_override(checked),
            launchd_commands(checked),
            windows_commands(checked),
        ),
    )


def _stringify(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _systemd_escape(assignment: str) -> str:
    """Inside a double-quoted systemd word, backslash and quote need a backslash, and `%`
    (a unit-file specifier) is doubled."""
    return assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


# ---------------------------------------------------------------------------- versions

TRAINED_CTX = 32768


def version_notes(version: str | None, plan: dict[str, object]) -> list[str]:
    """What this server version does differently from what the plan assumes.

    `plan` is `Plan.to_dict()`. Facts by version: `ollama-api.md` §2.2, §5, §6.
    """
    parsed = parse_version(version)
    if parsed is None:
        return [f"unrecognised Ollama version {version!r}; assuming a current server"]
    notes: list[str] = []
    num_ctx = int(str(plan.get("num_ctx") or 0))
    kv = str(plan.get("kv_cache_type") or "f16")
    if parsed < (0, 5, 5):
        notes.append(
            f"Ollama {version} predates structured /api/create (0.5.5); creating the "
            "variants will fail: upgrade Ollama"
        )
    if parsed < (0, 9, 3) and num_ctx > TRAINED_CTX:
        notes.append(
            f"Ollama {version} does not clamp num_ctx (0.9.3+ does): {num_ctx} tokens run "
            f"without YaRN and answers degrade past {TRAINED_CTX}"
        )
    if parsed < (0, 10, 0):
        notes.append(
            f"Ollama {version} does not report the context in use (/api/ps, 0.10.0+); "
            "the clamp check is skipped"
        )
    notes.extend(default_context_note(version))
    notes.extend(_kv_notes(version, kv, bool(plan.get("flash_attention"))))
    return notes


def default_context(version: str | None) -> str:
    """The context a model gets when nothing sets num_ctx, by server version.

    >>> default_context("0.6.6"), default_context("0.12.0"), default_context("0.16.0")
    ('2048', '4096', '4096, 32768 or 262144 by total VRAM')
    """
    parsed = parse_version(version) or (99, 0, 0)
    if parsed < (0, 6, 7):
        return "2048"
    if parsed < (0, 16, 0):
        return "4096"
    return "4096, 32768 or 262144 by total VRAM"


def default_context_note(version: str | None) -> list[str]:
    """Since 0.16 the default depends on VRAM, so the bare tag behaves differently per box."""
    parsed = parse_version(version)
    if parsed is None or parsed < (0, 16, 0):
        return []
    return [
        f"Ollama {version} picks a default context by total VRAM (4096 below ~23 GiB); the "
        "qwenkit variants set num_ctx, so use them (not the bare qwen2.5 tag) in Open WebUI"
    ]


def _kv_notes(version: str | None, kv: str, flash: bool) -> list[str]:
    """Settings the plan counts on that this server version would not apply by itself."""
    facts = server_facts(version)
    quantized = kv not in ("", "f16")
    if quantized and facts.kv_quant_needs_flash_env:
        why = (
            "a quantized KV cache is dropped unless OLLAMA_FLASH_ATTENTION=1 is set"
            if facts.flash_attention_by_itself
            else "flash attention is off for qwen2 unless OLLAMA_FLASH_ATTENTION=1"
        )
    elif quantized:
        why = "the server passes them to llama-server at start-up"
    elif flash and not facts.flash_attention_by_itself:
        why = "flash attention is off for qwen2 unless OLLAMA_FLASH_ATTENTION=1"
    else:
        return []
    setting = f"KV cache {kv}" if quantized else "flash attention"
    return [
        f"the plan's {setting} needs the server settings below (Ollama {version}: {why}); "
        "until the server is restarted with them it uses more memory than planned"
    ]
