"""`POST /api/pull` (the NDJSON progress stream, server-side resume, pull faults) and
`POST /api/push`."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from .protocol import Drop, Event, HttpError, Pause, Stream, StreamError
from .show import blob_path
from .state import Layer, LocalModel, State
from .wire import Name, parse_name

NOT_FOUND = "pull model manifest: file does not exist"
SMALL_LAYER = 1 << 20


def pull(state: State, body: dict[str, Any]) -> Stream:
    name = parse_name(str(body.get("model") or body.get("name") or ""))
    if name is None:
        raise HttpError(400, "invalid model name")
    return Stream(pull_events(state, name), stream=body.get("stream") is not False)


def pull_events(state: State, name: Name) -> Iterator[Event]:
    """The whole pull; installs the model as `name` when every layer is present."""
    yield {"status": "pulling manifest"}
    entry = state.registry.get(name.key)
    if entry is None:
        yield StreamError(NOT_FOUND)
        return
    layers = entry.model.layers()
    short_of_space = _disk_error(state, layers)
    if short_of_space:
        first = next(layer for layer in layers if not state.has_blob(layer.digest))
        yield _progress(first, state.partial.get(first.digest, 0))
        yield StreamError(short_of_space)
        return
    for layer in layers:
        finished = yield from _download(state, layer)
        if not finished:
            return
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    install(state, entry.model, name.short)
    yield {"status": "success"}


def push(state: State, body: dict[str, Any]) -> Stream:
    """`POST /api/push`: as Ollama's `PushModel`, the registry always accepting (the fake has
    no registry, as it has none for pull); an unknown model fails after the first line."""
    name = str(body.get("model") or body.get("name") or "")
    if not name:
        raise HttpError(400, "model is required")
    return Stream(push_events(state, name), stream=body.get("stream") is not False)


def push_events(state: State, name: str) -> Iterator[Event]:
    yield {"status": "retrieving manifest"}
    model = state.models.find(name)
    if model is None:
        yield {"status": "couldn't retrieve manifest"}
        yield StreamError(f"open {name}: no such file or directory")
        return
    for layer in model.layers():
        yield {"status": f"pushing {layer.digest[7:19]}", "digest": layer.digest,
               "total": layer.size, "completed": layer.size}  # fmt: skip
    yield {"status": "pushing manifest"}
    yield {"status": "success"}


def install(state: State, model: LocalModel, name: str) -> LocalModel:
    with state.lock:
        local = model.copy(name)
        state.models.put(local)
        state.present.update(layer.digest for layer in local.layers())
        return local


def _disk_error(state: State, layers: list[Layer]) -> str | None:
    free = state.faults.disk_free_bytes
    if free is None:
        return None
    missing = [layer for layer in layers if not state.has_blob(layer.digest)]
    needed = sum(layer.size - state.partial.get(layer.digest, 0) for layer in missing)
    if needed <= free:
        return None
    path = blob_path(state.config.models_dir, missing[0].digest)
    return f"write {path}-partial: no space left on device"


def _progress(layer: Layer, completed: int) -> dict[str, Any]:
    """A `pulling <12 hex>` line; `completed` is omitted while it is 0 (omitempty)."""
    line: dict[str, Any] = {
        "status": f"pulling {layer.digest[7:19]}",
        "digest": layer.digest,
        "total": layer.size,
    }
    if completed:
        line["completed"] = completed
    return line


def _download(state: State, layer: Layer) -> Generator[Event, None, bool]:
    """Simulate fetching one blob; returns False when the connection was dropped."""
    if state.has_blob(layer.digest):
        yield _progress(layer, layer.size)
        return True
    done = state.partial.get(layer.digest, 0)
    yield _progress(layer, done)
    step = max(layer.size // max(state.config.pull_steps, 1), 1)
    if layer.size < SMALL_LAYER:  # progress is sent every 60 ms: small blobs finish at once
        step = layer.size
    while done < layer.size:
        target = min(layer.size, done + step)
        fault = _fault_at(state, done, target)
        if fault is not None:
            target = max(done, min(fault[1], layer.size))
        if target > done:
            done = _advance(state, layer, target)
            yield _progress(layer, done)
        if fault is not None:
            yield fault[0]
            if isinstance(fault[0], Drop):
                return False
        elif state.config.pull_step_delay:
            yield Pause(state.config.pull_step_delay)
    with state.lock:
        state.partial.pop(layer.digest, None)
        state.present.add(layer.digest)
    return True


def _advance(state: State, layer: Layer, target: int) -> int:
    """Bytes fetched are kept server-side (the `-partial` file) even if the client leaves."""
    with state.lock:
        before = state.partial.get(layer.digest, 0)
        state.partial[layer.digest] = target
        if state.faults.disk_free_bytes is not None:
            state.faults.disk_free_bytes -= target - before
    return target


def _fault_at(state: State, done: int, target: int) -> tuple[Drop | Pause, int] | None:
    """An armed drop/stall whose byte mark falls in (done, target]; one use consumed."""
    faults = state.faults
    with state.lock:
        mark = faults.drop_pull_after
        if mark is not None and target >= mark:
            faults.drop_pull_times -= 1
            if faults.drop_pull_times <= 0:
                faults.drop_pull_after = None
            return Drop(), mark
        mark = faults.stall_pull_after
        if mark is not None and target >= mark:
            faults.stall_pull_times -= 1
            if faults.stall_pull_times <= 0:
                faults.stall_pull_after = None
            return Pause(faults.stall_seconds), mark
    return None
