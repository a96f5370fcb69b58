"""`POST /api/create` from the structured request (ollama-api.md §2.2)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator, Iterator
from typing import Any

from .gguf_meta import NotGGUF, model_info, read_gguf
from .library import FILE_TYPES
from .protocol import Event, HttpError, Stream, StreamError
from .pull import install, pull_events
from .show import blob_path
from .state import LocalModel, State
from .wire import DIGEST, Name, fake_digest, parse_name

NEITHER = "neither 'from' or 'files' was specified"
DEFAULT_TEMPLATE = "{{ .Prompt }}"
#: What 0.32.15 stores for a GGUF whose Jinja template is ChatML, with its stop parameters.
CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n"
)
CHATML_STOP = ["<|im_start|>", "<|im_end|>"]
QUANTIZABLE = ("F32", "F16", "BF16")
QUANT_TYPES = {"F32": "F32", "F16": "F16", "BF16": "BF16", "Q8_0": "Q8_0"}
QUANT_TYPES.update({"Q4_K_S": "Q4_K_S", "Q4_K_M": "Q4_K_M", "Q4_K": "Q4_K_M"})

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_OPENERS = ("if", "range", "with", "block", "define")


def check_template(text: str) -> str | None:
    """A Go text/template parse error (enough of it for the fake), or None.

    >>> check_template("{{ if .System }}x{{ end }}") is None
    True
    >>> check_template("{{ if .System }}x")
    'template: :1: unexpected EOF'
    >>> check_template("a {{ end }}")
    'template: :1: unexpected {{end}}'
    """
    depth = 0
    position = 0
    for match in _ACTION.finditer(text):
        if "{{" in text[position : match.start()]:
            break
        position = match.end()
        word = match.group(1).split(" ", 1)[0]
        line = text.count("\n", 0, match.start()) + 1
        if word in _OPENERS:
            depth += 1
        elif word == "end":
            if depth == 0:
                return f"template: :{line}: unexpected {{{{end}}}}"
            depth -= 1
    if "{{" in text[position:]:
        line = text.count("\n", 0, text.index("{{", position)) + 1
        return f"template: :{line}: unclosed action"
    if depth:
        return f"template: :{text.count(chr(10)) + 1}: unexpected EOF"
    return None


def create(state: State, body: dict[str, Any]) -> Stream:
    """Validate what Ollama rejects up front (plain 400s), then stream the work."""
    name = parse_name(str(body.get("model") or body.get("name") or ""))
    if name is None:
        raise HttpError(400, "invalid model name")
    files = body.get("files") or {}
    for path, digest in files.items():
        if posixpath.isabs(path) or posixpath.normpath(path) != path or path.startswith(".."):
            raise HttpError(400, "file path must be relative")
        if not digest:
            raise HttpError(400, "invalid digest format")
    if not body.get("from") and not files:
        raise HttpError(400, NEITHER)
    template = body.get("template") or ""
    if template and (problem := check_template(template)):
        raise HttpError(400, f"template error: {problem}")
    return Stream(_create_events(state, name, body), stream=body.get("stream") is not False)


def _create_events(state: State, name: Name, body: dict[str, Any]) -> Iterator[Event]:
    if body.get("files"):
        base = yield from _from_files(state, body)
    else:
        base = yield from _from_model(state, str(body["from"]))
    if base is None:
        return
    autodetected = bool(body.get("files")) and base.template == CHATML_TEMPLATE
    model = _apply(base.copy(name.short), body)
    quantize = body.get("quantize") or body.get("quantization")
    if quantize:
        problem = yield from _quantize(model, str(quantize))
        if problem:
            yield problem
            return
    known = {layer.digest for layer in base.layers()} | state.present | set(state.blobs)
    for layer in model.layers():
        if autodetected and layer.media_type == "template" and not body.get("template"):
            yield {"status": "using autodetected template chatml"}  # instead of its layer
            continue
        verb = "using existing" if layer.digest in known else "creating new"
        yield {"status": f"{verb} layer {layer.digest}"}
    yield {"status": "writing manifest"}
    install(state, model, name.short)
    yield {"status": "success"}


def _from_model(state: State, source: str) -> Generator[Event, None, LocalModel | None]:
    """The base model; a non-local `from` is pulled first (its lines are streamed)."""
    base = state.models.find(source)
    if base is not None:
        return base.copy(base.name)
    parsed = parse_name(source)
    if parsed is None:
        yield StreamError("invalid model name", 400)
        return None
    yield from pull_events(state, parsed)
    return state.models.find(source)


def _from_files(state: State, body: dict[str, Any]) -> Generator[Event, None, LocalModel | None]:
    """A model from an uploaded GGUF blob; its metadata decides context and arch."""
    path, digest = next(iter(body["files"].items()))
    yield {"status": "parsing GGUF"}  # before any check of the file (v0.32.15)
    if not DIGEST.match(str(digest)):
        yield StreamError("invalid digest format")
        return None
    digest = "sha256:" + str(digest)[7:].lower()
    data = state.blobs.get(digest)
    if data is None:
        where = blob_path(state.config.models_dir, digest)
        yield StreamError(f"open {where}: no such file or directory")
        return None
    try:
        info = read_gguf(data)
    except NotGGUF:
        yield StreamError("supplied file was not in GGUF format", 400)
        return None
    if state.config.version_tuple() >= (0, 32):
        yield {"status": "verifying conversion"}  # 0.32 loads every GGUF in llama-quantize
    by_number = {number: label for label, number in FILE_TYPES.items()}
    if state.config.version_tuple() >= (0, 32):
        del by_number[0]  # 0.32.15 reports an all-F32 file as "unknown"
    chatml = "<|im_start|>" in info.chat_template
    shown = model_info(info)
    if state.config.version_tuple() >= (0, 32):  # the GGUF is rewritten with these filled in
        shown.setdefault("general.parameter_count", info.parameter_count)
        shown.setdefault("general.quantization_version", 2)
    return LocalModel(
        name=path,
        model_digest=digest,
        model_size=len(data),
        model_info=dict(sorted(shown.items())),
        template=CHATML_TEMPLATE if chatml else DEFAULT_TEMPLATE,
        parameters={"stop": list(CHATML_STOP)} if chatml else {},
        files=dict(body["files"]),
        quantization=by_number.get(info.file_type or 0, "unknown"),
        tensors=info.tensors,
    )


def _apply(model: LocalModel, body: dict[str, Any]) -> LocalModel:
    """Merge the request into the base: parameters by key, empty strings keep the base."""
    model.parent = str(body.get("from") or "")
    model.parameters.update(body.get("parameters") or {})
    if body.get("template"):
        model.template = body["template"]
    if body.get("system"):
        model.system = body["system"]
    if body.get("messages"):
        model.messages = list(body["messages"])
    licenses = body.get("license") or []
    model.license.extend([licenses] if isinstance(licenses, str) else licenses)
    return model


def _quantize(model: LocalModel, wanted: str) -> Generator[Event, None, StreamError | None]:
    """Only F16/BF16/F32 sources can be quantized (checked before the type is)."""
    target = QUANT_TYPES.get(wanted.upper())
    if target is None:
        return StreamError(
            f"unsupported quantization type {wanted.upper()} - supported types are "
            "F32, F16, Q4_K_S, Q4_K_M, Q8_0",
            400,
        )
    if model.quantization not in QUANTIZABLE:
        return StreamError("quantization is only supported for F16, BF16 and F32 models", 400)
    status = f"quantizing {model.quantization} model to {target}"
    yield {"status": status, "digest": model.model_digest, "total": model.model_size}
    yield {
        "status": status,
        "digest": model.model_digest,
        "total": model.model_size,
        "completed": model.model_size,
    }
    model.quantization = target
    model.model_digest = fake_digest(f"{model.model_digest}:{target}")
    return None
