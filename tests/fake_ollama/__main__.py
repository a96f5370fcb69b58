"""Run the fake as a process: `python -m tests.fake_ollama --port 0 --library --log req.jsonl`.

The first line on stdout is the URL. A `--state FILE.json` configures it:

    {"version": "0.12.11", "trained_ctx": 32768, "vram_bytes": 25769803776,
     "library": true,
     "registry": ["name", {"name": "...", "size": 123, "aliases": ["..."]}],
     "local": ["qwen2.5:7b-instruct-q4_K_M", {"name": "x", "parameters": {"num_ctx": 8192}}],
     "faults": {"drop_pull_after": 1000000, "status": {"/api/chat": 503}},
     "chat_script": ["text", {"text": "...", "tool_calls": [...]}]}

At run time `GET /_fake/state`, `POST /_fake/faults` and `POST /_fake/chat_script` inspect
and steer it. It serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .server import FakeOllama
from .state import Reply

SETTINGS: tuple[str, ...] = (
    "version", "trained_ctx", "vram_bytes", "default_ctx", "kv_cache_type",
    "num_parallel", "models_dir", "pull_steps", "pull_step_delay", "token_delay",
    "prefill_delay", "slots", "answer_words",
)  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_ollama", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", type=Path, help="JSON file with models, faults, settings")
    parser.add_argument("--log", type=Path, help="append every request as a JSON line here")
    parser.add_argument("--version", dest="server_version", help="version to report")
    parser.add_argument("--vram-bytes", type=int)
    parser.add_argument("--library", action="store_true", help="make every qwen2.5 tag pullable")
    parser.add_argument("--registry", nargs="*", default=[], help="pullable model names")
    parser.add_argument("--models", nargs="*", default=[], help="models already pulled")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> FakeOllama:
    config: dict[str, Any] = json.loads(args.state.read_text()) if args.state else {}
    settings = {k: config[k] for k in SETTINGS if k in config}
    if args.server_version:
        settings["version"] = args.server_version
    if args.vram_bytes is not None:
        settings["vram_bytes"] = args.vram_bytes
    fake = FakeOllama(**settings, host=args.host, port=args.port, log_path=args.log)
    if args.library or config.get("library"):
        fake.add_library()
    for item in [*config.get("registry", []), *args.registry]:
        spec = {"name": item} if isinstance(item, str) else dict(item)
        fake.add_registry_model(spec.pop("name"), **spec)
    for item in [*config.get("local", []), *args.models]:
        spec = {"name": item} if isinstance(item, str) else dict(item)
        fake.add_local_model(spec.pop("name"), **spec)
    fake.faults.update(config.get("faults", {}))
    for reply in config.get("chat_script", []):
        fake.chat_script.append(Reply.from_json(reply))
    return fake


def main(argv: list[str] | None = None) -> int:
    fake = build(parse_args(argv))
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    with fake:
        sys.stdout.write(fake.url + "\n")
        sys.stdout.flush()
        stopped.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
