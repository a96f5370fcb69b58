"""How `qwenkit setup` events look: a human view (tables, bars, check marks) and NDJSON."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from .._common.checks import Check
from .._common.units import format_bytes
from ._plan_view import plan_lines
from ._render import CHECK_MARKS, ProgressBar, echo_checks, emit_json

OK = CHECK_MARKS["pass"]


class JsonView:
    """One JSON object per event; byte progress thinned to one line per percent."""

    def __init__(self) -> None:
        self._last_percent = -1
        self._last_long: tuple[str, int] = ("", -1)

    def long_progress(self, step: str, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 0
        if (step, percent) != self._last_long:
            self._last_long = (step, percent)
            emit_json({"event": "long_progress", "step": step, "completed": done, "total": total})

    def show(self, event: Any) -> None:
        if event.kind == "pull_progress":
            percent = int(100 * event.completed / event.total) if event.total else 0
            if percent == self._last_percent:
                return
            self._last_percent = percent
        line = event.to_dict()
        emit_json({"event": event.kind, **line} if isinstance(event, Check) else line)

    def close(self) -> None:
        """Nothing buffered."""


class HumanView:
    """Readable output on stdout; progress bars on stderr."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None
        self.started = time.monotonic()

    def show(self, event: Any) -> None:
        handler = getattr(self, "_" + event.kind, None)
        if event.kind != "pull_progress":
            self._end_bar()
        if handler is not None:
            handler(event)

    def long_progress(self, step: str, done: int, total: int) -> None:
        """Byte progress of the long variant's download/extend/upload: one bar per step."""
        label = f"long {step}"
        if self.bar is None or self.bar.label != label:
            self._end_bar()
            self.bar = ProgressBar(label, total, stream=sys.stderr)
        self.bar.update(done, total)

    def close(self) -> None:
        self._end_bar()

    def _end_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # -- one method per event kind -----------------------------------------------------

    def _probe(self, event: Any) -> None:
        p = event.profile
        gpus = ", ".join(
            f"{g.get('name')} ({format_bytes(g.get('memory_total_bytes') or 0)})"
            for g in p.get("gpus") or []
        )
        ram = format_bytes(p.get("ram_total_bytes") or 0)
        click.echo(f"machine: {gpus or 'no GPU'}; RAM {ram}; {p.get('os', '')} {p.get('arch', '')}")

    def _plan(self, event: Any) -> None:
        for line in plan_lines(event.plan):
            click.echo(line)

    def _server(self, event: Any) -> None:
        click.echo(f"{OK} Ollama {event.version} at {event.host}")

    def _warning(self, event: Any) -> None:
        color = "yellow" if event.level == "warning" else None
        click.secho(f"{event.level}: {event.message}", fg=color, err=True)

    def _proposal(self, event: Any) -> None:
        for line in proposal_lines(event):
            click.echo(line)

    def _cancelled(self, event: Any) -> None:
        click.echo(f"cancelled: {event.reason}")

    def _pull_skipped(self, event: Any) -> None:
        click.echo(f"{OK} {event.model} already present; not pulling")

    def _pull_status(self, event: Any) -> None:
        click.echo(f"  pull: {event.status}", err=True)

    def _pull_progress(self, event: Any) -> None:
        if self.bar is None:
            self.bar = ProgressBar(f"pull {event.model}", event.total, stream=sys.stderr)
        self.bar.update(event.completed, event.total)

    def _pull_retry(self, event: Any) -> None:
        click.secho(
            f"  pull: {event.reason}; retry {event.attempt}/{event.attempts - 1} "
            f"in {event.delay:g}s (the download resumes)",
            fg="yellow",
            err=True,
        )

    def _pull_done(self, event: Any) -> None:
        click.echo(f"{OK} pulled {event.model} ({format_bytes(event.total)})")

    def _long_step(self, event: Any) -> None:
        click.echo(f"  long: {event.step}: {event.detail}", err=True)

    def _long_skip(self, event: Any) -> None:
        click.echo(f"  long: {event.step} skipped ({event.reason})", err=True)

    def _long_notice(self, event: Any) -> None:
        click.secho(f"  long: {event.message}", fg="yellow", err=True)

    def _long_ready(self, event: Any) -> None:
        click.echo(f"{OK} {event.model}: GGUF context {event.context_length}")

    def _modelfile(self, event: Any) -> None:
        click.echo(f"{OK} {event.path} ({event.result})")

    def _create(self, event: Any) -> None:
        detail = f": {event.detail}" if event.detail else ""
        click.echo(f"{OK} {event.model} {event.action}{detail}")

    def _check(self, event: Check) -> None:
        echo_checks([event])

    def _summary(self, event: Any) -> None:
        for line in summary_lines(event, sys.platform):
            click.echo(line)


def proposal_lines(event: Any) -> list[str]:
    """What the run is about to do, in the words of a change: the confirmation's context."""
    lines = ["this run will:"]
    if event.pull:
        lines.append(f"  download {event.pull} ({format_bytes(event.download_bytes)})")
    else:
        lines.append("  download nothing (the base model is already in Ollama)")
    for m in event.models:
        changes = f": {'; '.join(m['changes'])}" if m["changes"] else ""
        verb = {"created": "create", "updated": "replace", "unchanged": "keep"}.get(
            m["action"], m["action"]
        )
        lines.append(f"  {verb} {m['model']}{changes}")
    written = {"create": "write", "replace": "rewrite", "keep": "keep your edited"}
    for f in event.modelfiles:
        if f["action"] in written:
            lines.append(f"  {written[f['action']]} {f['path']}")
    lines.append("afterwards on disk:")
    lines += [f"  {item}" for item in event.stays]
    return lines


def summary_lines(event: Any, platform: str) -> list[str]:
    """Models, Modelfiles, server settings for this platform, and the Open WebUI step."""
    lines = [""]
    if event.dry_run:
        lines.append("dry run: Modelfiles written, nothing sent to Ollama")
    else:
        lines.append("models: " + (", ".join(event.models) or "none"))
    lines.append("Modelfiles: " + (", ".join(event.modelfiles) or "none"))
    instructions = (event.server_env or {}).get("instructions") or {}
    if instructions:
        key = "darwin" if platform == "darwin" else "windows" if platform == "win32" else "linux"
        lines.append("server settings the plan needs (set them, then restart Ollama):")
        lines += [f"  {line}" for line in instructions.get(key, [])]
        others = [k for k in instructions if k != key]
        lines.append(f"  (for {' / '.join(others)}: `qwenkit setup --json` lists them too)")
    lines.append("Open WebUI:")
    lines += [f"  {line}" for line in event.webui]
    failed = [c for c in event.checks if c.get("status") == "fail"]
    passed = [c for c in event.checks if c.get("status") == "pass"]
    if event.checks:
        lines.append(f"checks: {len(passed)} passed, {len(failed)} failed")
    lines.append(next_step(event))
    return lines


def next_step(event: Any) -> str:
    """The one command to run next: plan for real after a dry run, else talk to the model."""
    if event.dry_run:
        return "next: `qwenkit setup` (the same options without --dry-run) pulls and creates them"
    chat = next((m for m in event.models if m.endswith("-chat")), None)
    model = chat or (event.models[0] if event.models else None)
    if model is None:
        return "next: `qwenkit status` shows what the server holds"
    return f"next: `qwenkit chat {model}` (/help inside lists the commands)"
