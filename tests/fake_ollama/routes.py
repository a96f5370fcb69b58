"""Route table and the small endpoints (version, tags, ps, show, delete, copy, blobs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import chat, create, pull
from .faults import StatusFault
from .protocol import TEXT_TYPE, Body, HttpError, Response
from .show import show_response
from .state import LocalModel, Reply, State
from .wire import DIGEST, local_time, parse_name, sha256_hex


@dataclass
class InvalidJSON:
    """A request body that did not decode; Go answers 400 with the decoder's text."""

    message: str


def _object(payload: Any) -> dict[str, Any]:
    if payload is None:
        raise HttpError(400, "missing request body")
    if isinstance(payload, InvalidJSON):
        raise HttpError(400, payload.message)
    if not isinstance(payload, dict):
        kind = type(payload).__name__.replace("list", "array").replace("str", "string")
        raise HttpError(400, f"json: cannot unmarshal {kind} into Go value of type api.Request")
    return payload


def version(state: State, _: Any) -> Response:
    return Body(200, {"version": state.config.version})


def tags(state: State, _: Any) -> Response:
    with state.lock:
        models = sorted(state.models.values(), key=lambda m: m.modified_at, reverse=True)
        listed = [_listed(m, state.config.version_tuple() >= (0, 32)) for m in models]
    return Body(200, {"models": listed})


def _listed(model: LocalModel, v032: bool) -> dict[str, Any]:
    """One `/api/tags` entry; 0.32 adds the trained context, width and capabilities."""
    entry = {
        "name": model.name,
        "model": model.name,
        "modified_at": local_time(model.modified_at),
        "size": model.size,
        "digest": model.digest,
        "details": model.details(),
    }
    if v032:
        entry["details"] |= {
            "context_length": model.context_length,
            "embedding_length": model.arch_int("embedding_length", 0),
        }
        entry["capabilities"] = model.capabilities
    return entry


def ps(state: State, _: Any) -> Response:
    return Body(200, {"models": [loaded.as_json() for loaded in state.ps()]})


def show(state: State, payload: Any) -> Response:
    body = _object(payload)
    name = str(body.get("model") or body.get("name") or "")
    if not name:
        raise HttpError(400, "model is required")
    model = state.models.find(name)
    if model is None:
        parsed = parse_name(name)  # show names the tag, unlike chat/delete (v0.32.15)
        raise HttpError(404, f"model '{parsed.short if parsed else name}' not found")
    return Body(200, show_response(model, state.config))


def delete(state: State, payload: Any) -> Response:
    body = _object(payload)
    name = str(body.get("model") or body.get("name") or "")
    if parse_name(name) is None:
        raise HttpError(400, f'name "{name}" is invalid')
    with state.lock:
        model = state.models.remove(name)
        if model is None:
            raise HttpError(404, f"model '{name}' not found")
        # Ollama leaves a deleted model's runner loaded (listed under its name) until it expires
        still_used = {layer.digest for m in state.models.values() for layer in m.layers()}
        state.present -= {layer.digest for layer in model.layers()} - still_used
    return Body(200, None)


def copy(state: State, payload: Any) -> Response:
    body = _object(payload)
    source, destination = str(body.get("source", "")), str(body.get("destination", ""))
    if parse_name(source) is None:
        raise HttpError(400, f'source "{source}" is invalid')
    target = parse_name(destination)
    if target is None:
        raise HttpError(400, f'destination "{destination}" is invalid')
    with state.lock:
        model = state.models.find(source)
        if model is None:
            raise HttpError(404, f'model "{source}" not found')
        state.models.put(model.copy(target.short))
    return Body(200, None)


def blobs(state: State, method: str, digest: str, raw: bytes) -> Response:
    """HEAD: exists? POST: store raw bytes after checking their sha256."""
    match = DIGEST.match(digest)
    if match is None:
        raise HttpError(400, "invalid digest format")
    wanted = "sha256:" + match.group(1).lower()
    if method == "HEAD":
        if state.has_blob(wanted):
            return Body(200, None)
        raise HttpError(404, f'blob "{digest}" not found')
    if method != "POST":
        return Body(404, "404 page not found", TEXT_TYPE)
    if state.has_blob(wanted):
        return Body(200, None)
    got = "sha256:" + sha256_hex(raw)
    if got != wanted:
        raise HttpError(400, f'digest mismatch, expected "{wanted}", got "{got}"')
    with state.lock:
        state.blobs[wanted] = raw
    return Body(201, None)


def control(state: State, method: str, path: str, payload: Any) -> Response:
    """`/_fake/*`: let a parent process inspect the fake and flip faults at run time."""
    if path == "/_fake/state" and method == "GET":
        with state.lock:
            return Body(200, snapshot(state))
    if path == "/_fake/faults" and method == "POST":
        try:
            state.faults.update(_object(payload))
        except (KeyError, TypeError) as exc:
            raise HttpError(400, str(exc)) from None
        return Body(200, {"ok": True})
    if path == "/_fake/chat_script" and method == "POST":
        items = payload if isinstance(payload, list) else [payload]
        state.chat_script.extend(Reply.from_json(item) for item in items)
        return Body(200, {"ok": True})
    return Body(404, "404 page not found", TEXT_TYPE)


def snapshot(state: State) -> dict[str, Any]:
    """A JSON view of the state for tests that run the fake as a process."""
    faults = {k: v for k, v in vars(state.faults).items() if not k.startswith("_")}
    faults["status"] = {
        p: asdict(v) if isinstance(v, StatusFault) else v for p, v in state.faults.status.items()
    }
    return {
        "models": {
            name: {
                "parameters": m.parameters,
                "system": m.system,
                "template": m.template,
                "parent": m.parent,
                "messages": m.messages,
                "license": m.license,
                "context_length": m.context_length,
            }
            for name, m in state.models.items()
        },
        "loaded": [loaded.as_json() for loaded in state.ps()],
        "loads": state.loads,
        "partial": state.partial,
        "blobs": sorted(state.blobs),
        "faults": faults,
    }


Handler = Callable[[State, Any], Response]

ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/api/version"): version,
    ("HEAD", "/api/version"): version,
    ("GET", "/api/tags"): tags,
    ("HEAD", "/api/tags"): tags,
    ("GET", "/api/ps"): ps,
    ("POST", "/api/show"): show,
    ("DELETE", "/api/delete"): delete,
    ("POST", "/api/copy"): copy,
    ("POST", "/api/pull"): lambda s, p: pull.pull(s, _object(p)),
    ("POST", "/api/push"): lambda s, p: pull.push(s, _object(p)),
    ("POST", "/api/create"): lambda s, p: create.create(s, _object(p)),
    ("POST", "/api/chat"): lambda s, p: chat.chat(s, _object(p)),
    ("POST", "/api/generate"): lambda s, p: chat.chat(s, _object(p), generate=True),
    ("POST", "/api/embed"): lambda s, p: Body(200, chat.embed(s, _object(p))),
    ("POST", "/api/embeddings"): lambda s, p: Body(200, chat.embed(s, _object(p), legacy=True)),
}


def route(state: State, method: str, path: str, raw: bytes, payload: Any) -> Response:
    if path == "/" and method in ("GET", "HEAD"):
        return Body(200, "Ollama is running", TEXT_TYPE)
    if path.startswith("/api/blobs/"):
        return blobs(state, method, path.removeprefix("/api/blobs/"), raw)
    if path.startswith("/_fake/"):
        return control(state, method, path, payload)
    handler = ROUTES.get((method, path))
    if handler is None:
        return Body(404, "404 page not found", TEXT_TYPE)
    return handler(state, payload)
