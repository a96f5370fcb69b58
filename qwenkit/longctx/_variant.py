"""Building the separate 128K model: base GGUF → YaRN copy → blob upload → create.

Ollama runs `qwen2.5:7b-instruct` at 32768 however large `num_ctx` is, because the GGUF
declares that trained context. The long variant is therefore created from a rewritten GGUF
(`qwenkit.yarn`), uploaded as a blob, with the base model's TEMPLATE, parameters (stop
tokens) and license copied over — a model created from a bare GGUF has none of them, which
would lose the chat template and tool calling. The 32K variants stay as they are: static YaRN
can cost a little quality on short inputs.

`build_long_variant` is a generator of small events (`to_dict()` for `--json`); byte progress
of the long steps goes to the `progress(step, done, total)` callback so a renderer can draw one
bar per step. Steps already done are skipped: an extended file whose metadata and recorded
source digest match, a blob the server already holds.

The long-input check (`long_input_check`, a pass key buried in ~N tokens) lives in
`qwenkit.longctx._check` and is re-exported here, next to the model it is meant to prove.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .._common.events import Event
from ..catalog import MODEL, TAGS
from ..errors import ModelNotFoundError, QwenkitError, SetupError
from ..modelfile import parse_show_parameters
from ..variants import QWEN25_TEMPLATE, repair_template, yarn_gguf_filename
from ._check import (
    LongInputResult,
    PasskeyPrompt,
    answer_has_passkey,
    long_input_check,
    passkey_prompt,
)
from ._files import Sidecar, blob_digest, locate_local_gguf
from .registry import DEFAULT_REGISTRY, download_blob, fetch_manifest
from .yarn import extend_context, read_context_info

if TYPE_CHECKING:
    from ..client import Client

StepProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LongEvent(Event):
    """Base of the pipeline's events: setup events that belong to one `step`."""

    kind: ClassVar[str] = "long"
    step: str


@dataclass(frozen=True)
class StepStarted(LongEvent):
    kind: ClassVar[str] = "long_step"
    detail: str = ""


@dataclass(frozen=True)
class StepSkipped(LongEvent):
    kind: ClassVar[str] = "long_skip"
    reason: str = ""


@dataclass(frozen=True)
class StepNotice(LongEvent):
    kind: ClassVar[str] = "long_notice"
    message: str = ""


@dataclass(frozen=True)
class CreateStatus(LongEvent):
    """One status line of `/api/create` (`parsing GGUF`, `writing manifest`, ...)."""

    kind: ClassVar[str] = "long_create"
    status: str = ""


@dataclass(frozen=True)
class LongVariantReady(LongEvent):
    kind: ClassVar[str] = "long_ready"
    model: str = ""
    gguf: str = ""
    digest: str = ""
    context_length: int = 0
    num_ctx: int = 0


def extended_name(base_model: str, num_ctx: int) -> str:
    """The extended copy's file name: the one the long variant's Modelfile names in `FROM`.

    For a `qwen2.5:7b-instruct-<quant>` base this is `variants.yarn_gguf_filename`, so the
    file setup builds and the bundled `qwenkit-long.Modelfile` agree; any other base follows
    the same `<model>-yarn-<num_ctx>.gguf` pattern.

    >>> extended_name("qwen2.5:7b-instruct-q4_K_M", 131072)
    'qwen2.5-7b-instruct-q4_K_M-yarn-131072.gguf'
    >>> extended_name("me/model:tag", 65536)
    'me-model-tag-yarn-65536.gguf'
    """

    quants = {f"{MODEL}-{t.quant}".lower(): t.quant for t in TAGS}
    if base_model.lower() in quants:
        return yarn_gguf_filename(quants[base_model.lower()], num_ctx)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base_model).strip("-.")
    return f"{safe}-yarn-{num_ctx}.gguf"


def chat_template(shown: Any) -> str:
    """The base model's TEMPLATE (the real library one) when it has one, else Qwen2.5's own;
    tool schemas repaired to print as JSON (see `qwenkit.variants.repair_template`).

    A model created from a bare GGUF has no template: without one Ollama would send raw
    text, losing the chat format and tool calling.
    """

    return repair_template(getattr(shown, "template", None) or QWEN25_TEMPLATE)


@dataclass(frozen=True)
class _Job:
    """Everything the steps of one `build_long_variant` run share."""

    client: Client
    base_model: str
    shown: Any  # `/api/show` of the base model
    target: Path  # the extended GGUF in the work folder
    factor: float
    report: StepProgress
    models_dir: str | os.PathLike[str] | None
    registry: str | None

    @property
    def source_digest(self) -> str | None:
        return blob_digest(self.shown.modelfile)


def build_long_variant(
    client: Client,
    *,
    base_model: str,
    model_name: str,
    num_ctx: int,
    workdir: str | os.PathLike[str],
    factor: float = 4.0,
    system: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    template: str | None = None,
    progress: StepProgress | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    registry: str | None = None,
    keep_gguf: bool = False,
) -> Iterator[LongEvent]:
    """Create `model_name`, a YaRN long-context copy of `base_model`, on the server.

    Steps, each announced by `StepStarted` or `StepSkipped`: `download` the base GGUF from
    the registry into `workdir` unless the server's blob is readable here, `extend` it,
    `upload` the blob, `create` the model (`CreateStatus` lines); then `LongVariantReady`.
    The base model must be on the server: its template (see `chat_template`), parameters
    (stop tokens) and license are copied from there; `system`, `parameters` and `template`
    override them. The extended file (as large as the base) is deleted once the server holds
    it, unless `keep_gguf`; a sidecar `<file>.json` remembers its digest so a rerun skips to
    `create`.
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    job = _Job(
        client,
        base_model,
        shown=_show_base(client, base_model),
        target=work / extended_name(base_model, num_ctx),
        factor=factor,
        report=progress or (lambda _s, _d, _t: None),
        models_dir=models_dir,
        registry=registry,
    )
    done = _already_uploaded(job)
    if done is not None:
        yield StepSkipped("extend", f"{job.target.name} was already built from this base")
        yield StepSkipped("upload", f"the server already has {done.digest}")
    else:
        done = yield from _upload(job, (yield from _extend(job)))
    assert done.digest is not None
    body = create_body(
        job.shown, model_name, job.target.name, done.digest, num_ctx, system, parameters, template
    )
    yield from _create(client, model_name, num_ctx, body)
    if not keep_gguf:
        job.target.unlink(missing_ok=True)
    gguf = str(job.target) if job.target.exists() else ""
    yield LongVariantReady("done", model_name, gguf, done.digest, done.context_length, num_ctx)


def _show_base(client: Client, base_model: str) -> Any:

    try:
        return client.show(base_model)
    except ModelNotFoundError:
        raise SetupError(
            f"the base model {base_model} is not on the server",
            step="download",
            hint=f"pull it first: `ollama pull {base_model}` (or run `qwenkit setup`)",
        ) from None


def _already_uploaded(job: _Job) -> Sidecar | None:
    """The sidecar, when it proves the server holds the extended blob of this very base."""
    known = Sidecar.read(job.target)
    if known is None or known.digest is None or known.source_digest != job.source_digest:
        return None
    if job.target.exists() and not known.describes(job.target):
        return None  # the file was rewritten since: trust the file, not the note
    return known if job.client.has_blob(known.digest) else None


def _extend(job: _Job) -> Generator[LongEvent, None, Sidecar]:
    """Write the target unless it already is the YaRN copy of this base."""
    target = job.target
    known = Sidecar.read(target)
    if known and known.describes(target) and known.source_digest == job.source_digest:
        info = read_context_info(target)
        if info.rope_scaling_type == "yarn" and info.factor == float(job.factor):
            yield StepSkipped("extend", f"{target.name} is already extended")
            return known
    source = locate_local_gguf(job.shown.modelfile, models_dir=job.models_dir)
    downloaded = None
    if source is not None:
        yield StepSkipped("download", f"reading the server's blob {source}")
    else:
        source = downloaded = yield from _download(job)
    yield StepStarted("extend", f"writing {target.name} (YaRN x{job.factor:g})")
    Sidecar.path_for(target).unlink(missing_ok=True)
    progress = functools.partial(job.report, "extend")
    extend_context(source, target, factor=job.factor, overwrite=True, progress=progress)
    if downloaded is not None:
        downloaded.unlink(missing_ok=True)  # 4-15 GB we no longer need
    sidecar = Sidecar.of(target, job.source_digest)
    sidecar.write(target)
    return sidecar


def _download(job: _Job) -> Generator[LongEvent, None, Path]:
    """The base GGUF from the registry, into the work folder (resumable, digest-checked)."""

    registry = job.registry or DEFAULT_REGISTRY
    yield StepStarted("download", f"fetching {job.base_model} from {registry}")
    layer = fetch_manifest(job.base_model, registry=registry).model_layer
    if job.source_digest and layer.digest != job.source_digest:
        yield StepNotice("download", "the registry has a newer build than the server's copy")
    return download_blob(
        job.base_model,
        layer.digest,
        job.target.with_name(layer.digest.replace(":", "-")),
        size=layer.size,
        registry=registry,
        progress=functools.partial(job.report, "download"),
    )


def _upload(job: _Job, sidecar: Sidecar) -> Generator[LongEvent, None, Sidecar]:
    yield StepStarted("upload", f"hashing and uploading {job.target.name}")
    digest = job.client.create_blob(job.target, progress=functools.partial(job.report, "upload"))
    done = Sidecar.of(job.target, sidecar.source_digest, digest)
    done.write(job.target)
    return done


def _create(
    client: Client, model_name: str, num_ctx: int, body: dict[str, Any]
) -> Iterator[LongEvent]:
    yield StepStarted("create", f"creating {model_name} (num_ctx {num_ctx})")
    try:
        for line in client.create_from_request(body, stream=True):
            yield CreateStatus("create", line.status)
    except QwenkitError as err:
        raise SetupError(
            f"creating {model_name} failed: {err}", step="create", hint=err.hint
        ) from err


def create_body(
    shown: Any,
    model_name: str,
    file_name: str,
    digest: str,
    num_ctx: int,
    system: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    template: str | None = None,
) -> dict[str, Any]:
    """The `/api/create` body: the blob, plus what the base model would otherwise lose."""
    params = parse_show_parameters(getattr(shown, "parameters", None))
    params.update(parameters or {})
    params["num_ctx"] = num_ctx
    body: dict[str, Any] = {
        "model": model_name,
        "files": {file_name: digest},
        "parameters": params,
        "template": template or chat_template(shown),
    }
    license_text = getattr(shown, "license", None)
    if license_text:
        body["license"] = license_text
    system = system if system is not None else getattr(shown, "system", None)
    if system:
        body["system"] = system
    return body


__all__ = [
    "CreateStatus",
    "LongEvent",
    "LongInputResult",
    "LongVariantReady",
    "PasskeyPrompt",
    "StepNotice",
    "StepSkipped",
    "StepStarted",
    "answer_has_passkey",
    "blob_digest",
    "build_long_variant",
    "chat_template",
    "create_body",
    "extended_name",
    "locate_local_gguf",
    "long_input_check",
    "passkey_prompt",
]
