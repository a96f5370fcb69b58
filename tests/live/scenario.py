"""One scenario of raw HTTP exchanges, run against the fake and a real Ollama, and compared.

What is compared is what qwenkit depends on: status codes, content types, the keys present,
error texts, stream framing (NDJSON lines, exactly one `done:true`, last) and `done_reason`.
Generated text, timings, digests and dates differ by nature and are not compared.

`record()` writes the real exchanges, trimmed, to `tests/fixtures/ollama/` so unit tests
replay what a real server sent (see `tests/test_real_exchanges.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ollama"
MISSING = "qwenkit-no-such-model"
FOCUS = "scn-tiny"  # the model the scenario creates and whose entries it compares
TWIN = "scn-twin"  # made from FOCUS's blob with another system prompt: one runner for both
ZERO_DIGEST = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Step:
    """One request; `body` is JSON (or raw bytes), `stream` whether the answer is NDJSON."""

    name: str
    method: str
    path: str
    body: Any = None
    stream: bool = False


@dataclass
class Exchange:
    """What came back: status, content type, and the JSON body or the list of NDJSON lines."""

    step: Step
    status: int
    content_type: str
    body: Any = None
    lines: list[Any] = field(default_factory=list)
    text: str = ""


def steps(cut: str, blob: tuple[str, bytes], tools_model: str) -> list[Step]:
    """The scenario: `blob` is a tiny GGUF (digest, bytes) not yet on the server, from which
    it creates `scn-tiny` and talks to it; `cut` is a model that only emits invalid UTF-8,
    `tools_model` one whose template has tools. It ends with `scn-tiny` unloaded."""
    digest, data = blob
    model = FOCUS
    hello = [{"role": "user", "content": "Say hello."}]
    short = {"num_predict": 4, "seed": 1}
    files = {"files": {"tiny.gguf": digest}}
    missing = {"files": {"gone.gguf": ZERO_DIGEST}}
    chat = {"model": model, "messages": hello, "options": short}
    gen = {"model": model, "prompt": "Once", "options": short}
    tool = {"type": "function", "function": {"name": "now", "description": "the time",
            "parameters": {"type": "object", "properties": {}}}}  # fmt: skip
    return [
        Step("version", "GET", "/api/version"),
        Step("blob_head_missing", "HEAD", f"/api/blobs/{digest}"),
        Step("blob_upload", "POST", f"/api/blobs/{digest}", data),
        Step("blob_head_present", "HEAD", f"/api/blobs/{digest}"),
        Step("create", "POST", "/api/create", {"model": "scn-tiny", **files, "stream": False}),
        Step("create_stream", "POST", "/api/create", {"model": "scn-tiny2", **files}, True),
        Step("create_missing_blob", "POST", "/api/create",
             {"model": "scn-x", **missing, "stream": False}),
        Step("create_missing_blob_stream", "POST", "/api/create", {"model": "scn-x", **missing},
             True),
        Step("create_no_source", "POST", "/api/create", {"model": "scn-x", "stream": False}),
        Step("tags", "GET", "/api/tags"),
        Step("show", "POST", "/api/show", {"model": "scn-tiny"}),
        Step("show_missing", "POST", "/api/show", {"model": MISSING}),
        Step("chat", "POST", "/api/chat", {**chat, "stream": False}),
        Step("chat_stream", "POST", "/api/chat", chat, True),
        Step("chat_load", "POST", "/api/chat", {"model": model, "stream": False}),
        Step("ps", "GET", "/api/ps"),
        # a second model from the same blob shares scn-tiny's runner: ps lists scn-tiny only
        Step("create_twin", "POST", "/api/create",
             {"model": TWIN, **files, "system": "You are a twin.", "stream": False}),
        Step("chat_twin", "POST", "/api/chat", {**chat, "model": TWIN, "stream": False}),
        Step("ps_shared", "GET", "/api/ps"),
        Step("tags_shared", "GET", "/api/tags"),
        Step("show_twin", "POST", "/api/show", {"model": TWIN}),
        Step("generate", "POST", "/api/generate", {**gen, "stream": False}),
        Step("generate_stream", "POST", "/api/generate", gen, True),
        Step("chat_missing", "POST", "/api/chat", {**chat, "model": MISSING, "stream": False}),
        Step("chat_missing_stream", "POST", "/api/chat", {**chat, "model": MISSING}, True),
        Step("generate_missing", "POST", "/api/generate",
             {**gen, "model": MISSING, "stream": False}),
        Step("delete_missing", "DELETE", "/api/delete", {"model": MISSING}),
        Step("copy_missing", "POST", "/api/copy", {"source": MISSING, "destination": "scn-y"}),
        Step("copy", "POST", "/api/copy", {"source": "scn-tiny", "destination": "scn-copy"}),
        Step("delete", "DELETE", "/api/delete", {"model": "scn-copy"}),
        Step("option_wrong_type", "POST", "/api/generate",
             {**gen, "options": {"num_predict": "four"}, "stream": False}),
        Step("option_unknown", "POST", "/api/generate",
             {**gen, "options": {**short, "num_ctxx": 8}, "stream": False}),
        Step("chat_tools_unsupported", "POST", "/api/chat",
             {**chat, "tools": [tool], "stream": False}),
        Step("chat_tools_template", "POST", "/api/chat",
             {**chat, "model": tools_model, "tools": [tool], "stream": False}),
        Step("chat_think_unsupported", "POST", "/api/chat",
             {**chat, "think": True, "stream": False}),
        Step("embed_unsupported", "POST", "/api/embed", {"model": model, "input": "hello"}),
        Step("bad_json", "POST", "/api/chat", b"{not json"),
        Step("chat_cut", "POST", "/api/chat",
             {**chat, "model": cut, "options": {"num_predict": 16}, "stream": False}),
        Step("chat_cut_stream", "POST", "/api/chat",
             {**chat, "model": cut, "options": {"num_predict": 16}}, True),
        Step("generate_cut", "POST", "/api/generate",
             {**gen, "model": cut, "options": {"num_predict": 16}, "stream": False}),
        Step("generate_unload", "POST", "/api/generate",
             {"model": model, "keep_alive": 0, "stream": False}),
        Step("delete_created", "DELETE", "/api/delete", {"model": "scn-tiny2"}),
        Step("delete_twin", "DELETE", "/api/delete", {"model": TWIN}),
    ]  # fmt: skip


def run(url: str, scenario: Iterable[Step]) -> dict[str, Exchange]:
    """Send every step in order (they depend on each other) and keep what came back."""
    out: dict[str, Exchange] = {}
    with httpx.Client(base_url=url, timeout=httpx.Timeout(120, connect=5)) as http:
        for step in scenario:
            out[step.name] = _send(http, step)
    return out


def _send(http: httpx.Client, step: Step) -> Exchange:
    content = step.body if isinstance(step.body, bytes) else None
    payload = None if content is not None or step.body is None else step.body
    answer = http.request(step.method, step.path, json=payload, content=content)
    kind = answer.headers.get("content-type", "")
    got = Exchange(step, answer.status_code, kind, text=answer.text)
    if "ndjson" in kind:
        got.lines = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
    elif answer.content:
        try:
            got.body = answer.json()
        except ValueError:
            got.body = None
    return got


# --------------------------------------------------------------------------- comparing


def shape(got: Exchange) -> dict[str, Any]:
    """The facts of an exchange that qwenkit relies on (what `compare` compares)."""
    facts: dict[str, Any] = {"status": got.status, "content_type": _media_type(got.content_type)}
    if got.lines:
        facts["lines"] = _framing(got.lines)
    elif isinstance(got.body, dict):
        facts["keys"] = sorted(got.body)
        facts |= _details(got.body)
    elif got.text:
        facts["text"] = got.text[:80]
    return facts


def _media_type(value: str) -> str:
    return value.split(";")[0].strip()


def _framing(lines: list[Any]) -> dict[str, Any]:
    done = [i for i, line in enumerate(lines) if isinstance(line, dict) and line.get("done")]
    last = lines[-1] if lines else {}
    return {
        "done_lines": "one, last" if done == [len(lines) - 1] else f"at {done} of {len(lines)}",
        "last_keys": sorted(last),
        "error": _error_text(last.get("error")) if isinstance(last, dict) else None,
        "first_keys": sorted(lines[0]) if lines and lines[0] is not last else None,
        "done_reason": last.get("done_reason") if isinstance(last, dict) else None,
        "statuses": _statuses(lines),
    }


def _statuses(lines: list[Any]) -> list[str] | None:
    found = [_status_text(line["status"]) for line in lines if "status" in line]
    return found or None


def _status_text(status: str) -> str:
    return re.sub(r"sha256:[0-9a-f]{64}", "sha256:…", status)


def _details(body: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if "error" in body:
        facts["error"] = _error_text(body["error"])
    for key in ("done", "done_reason", "status"):
        if key in body:
            facts[key] = body[key]
    if isinstance(body.get("message"), dict):
        facts["message_keys"] = sorted(body["message"])
    if isinstance(body.get("details"), dict):
        facts["details"] = body["details"]
    models = body.get("models") or []
    if "models" in body:  # which of the scenario's models are listed, and how often (the
        # order is by whole seconds of modified_at/expires_at, so ties come in any order)
        facts["scenario_models"] = sorted(m.get("name") for m in models if _ours(m.get("name")))
    focus = [m for m in models if m.get("name") == f"{FOCUS}:latest"]
    if focus:  # the other models differ between the two servers
        facts["model_keys"] = sorted(focus[0])
        facts["model_details"] = focus[0].get("details")
    if "capabilities" in body:
        facts["capabilities"] = body["capabilities"]
    if isinstance(body.get("model_info"), dict):
        info = body["model_info"]
        facts["model_info_keys"] = sorted(info)
        facts["model_info_lists"] = sorted(k for k, v in info.items() if isinstance(v, list))
    if isinstance(body.get("tensors"), list):
        facts["tensor_keys"] = sorted({k for t in body["tensors"] for k in t})
    return facts


def _ours(name: Any) -> bool:
    return isinstance(name, str) and name.startswith("scn-")


def _error_text(error: Any) -> str | None:
    """An error with its local parts (paths, digests, hosts) replaced by placeholders."""
    if error is None:
        return None
    text = str(error)
    text = re.sub(r"/\S*/blobs/sha256-[0-9a-f]{64}", "<blob path>", text)
    text = re.sub(r"sha256[:-][0-9a-f]{64}", "sha256:…", text)
    return re.sub(r"llama-server: .*|\{.*\}$", "<runner text>", text)


def compare(fake: dict[str, Exchange], real: dict[str, Exchange]) -> dict[str, list[str]]:
    """Per step, each fact where the fake and the real server differ: `key: fake X, real Y`."""
    out: dict[str, list[str]] = {}
    for name, real_exchange in real.items():
        want, got = shape(real_exchange), shape(fake[name])
        diffs = [f"{k}: fake {got.get(k)!r}, real {want.get(k)!r}"
                 for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]  # fmt: skip
        if diffs:
            out[name] = diffs
    return out


# --------------------------------------------------------------------------- fixtures


def record(exchanges: dict[str, Exchange], folder: Path = FIXTURES) -> list[Path]:
    """Write each real exchange as `<step>.json` (request, status, content type, trimmed body)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, got in exchanges.items():
        body = got.step.body
        request = {"method": got.step.method, "path": got.step.path}
        if isinstance(body, bytes):
            request["raw"] = body.decode("latin-1")[:40]
        elif body is not None:
            request["json"] = body
        entry: dict[str, Any] = {"request": request, "status": got.status,
                                 "content_type": got.content_type}  # fmt: skip
        if "ndjson" in got.content_type:
            entry["lines"] = [trim(line) for line in got.lines]
        elif got.body is not None:
            entry["json"] = trim(got.body)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(entry, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def trim(value: Any, *, items: int = 4, chars: int = 600) -> Any:
    """Lists cut to their first `items`, long strings to `chars`: a fixture stays small."""
    if isinstance(value, dict):
        return {k: trim(v, items=items, chars=chars) for k, v in value.items()}
    if isinstance(value, list):
        return [trim(v, items=items, chars=chars) for v in value[:items]]
    if isinstance(value, str) and len(value) > chars:
        return value[:chars] + "…"
    return value


def load(name: str) -> dict[str, Any]:
    """A recorded exchange, for unit tests."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


