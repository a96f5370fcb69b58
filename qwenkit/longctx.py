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

`long_input_check` is the optional proof on real hardware: a pass key buried in the middle of
~N tokens of filler, and the answer checked for it.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import QwenkitError, SetupError
from .yarn import extend_context, read_context_info

if TYPE_CHECKING:
    from .client import Client

StepProgress = Callable[[str, int, int], None]

_FROM_BLOB = re.compile(r"^FROM\s+(\S*sha256-([0-9a-fA-F]{64}))\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LongEvent:
    """Base of the pipeline's events; `kind` names it in `--json` output."""

    kind: ClassVar[str] = "long"
    step: str

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


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


# ------------------------------------------------------------------------ locating the GGUF


def blob_digest(show_modelfile: str | None) -> str | None:
    """`sha256:<hex>` of the model layer named by `/api/show`'s `FROM` line, if any.

    >>> blob_digest("# header\\nFROM /m/blobs/sha256-" + "ab" * 32 + "\\nTEMPLATE x")[:13]
    'sha256:ababab'
    """
    match = _FROM_BLOB.search(show_modelfile or "")
    return f"sha256:{match.group(2).lower()}" if match else None


def locate_local_gguf(
    show_modelfile: str | None, *, models_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The base model's GGUF on this machine, or None when it is not readable here.

    Looks at the server's own path from the `FROM` line first, then at the same blob name in
    `models_dir`, `$OLLAMA_MODELS` and `~/.ollama/models` (a server in a container or
    another user's store shows a path this process may not see). Blobs are named by their
    SHA-256, so a readable file of that name is the right content.
    """
    match = _FROM_BLOB.search(show_modelfile or "")
    if match is None:
        return None
    server_path = Path(match.group(1))
    folders = [models_dir, os.environ.get("OLLAMA_MODELS"), Path.home() / ".ollama" / "models"]
    candidates = [server_path] + [Path(f) / "blobs" / server_path.name for f in folders if f]
    return next((path for path in candidates if _readable_gguf(path)), None)


def _readable_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


# ------------------------------------------------------------------------ the pipeline


@dataclass(frozen=True)
class _Sidecar:
    """`<gguf>.json`: which base an extended file came from, its shape, and its blob digest."""

    source_digest: str | None
    size: int
    mtime_ns: int
    context_length: int
    digest: str | None = None

    @staticmethod
    def path_for(gguf: Path) -> Path:
        return gguf.with_name(gguf.name + ".json")

    @classmethod
    def read(cls, gguf: Path) -> _Sidecar | None:
        try:
            data = json.loads(cls.path_for(gguf).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None

    @classmethod
    def of(cls, gguf: Path, source_digest: str | None, digest: str | None = None) -> _Sidecar:
        stat = gguf.stat()
        ctx = read_context_info(gguf).context_length or 0
        return cls(source_digest, stat.st_size, stat.st_mtime_ns, ctx, digest)

    def write(self, gguf: Path) -> None:
        self.path_for(gguf).write_text(json.dumps(asdict(self)), encoding="utf-8")

    def describes(self, gguf: Path) -> bool:
        """True when `gguf` is the very file this sidecar was written for."""
        try:
            stat = gguf.stat()
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


def extended_name(base_model: str, factor: float) -> str:
    """A file name for the extended copy of a model.

    >>> extended_name("qwen2.5:7b-instruct-q4_K_M", 4.0)
    'qwen2.5-7b-instruct-q4_K_M-yarn4.gguf'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base_model).strip("-.")
    return f"{safe}-yarn{factor:g}.gguf"


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
    The base model must be on the server: its template, parameters (stop tokens) and license
    are copied from there; `system`, `parameters` and `template` override them.
    The extended file (as large as the base) is deleted once the server holds it, unless
    `keep_gguf`; a sidecar `<file>.json` remembers its digest so a rerun skips to `create`.
    """
    report = progress or (lambda _s, _d, _t: None)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    shown = _show_base(client, base_model)
    source_digest = blob_digest(shown.modelfile)
    target = work / extended_name(base_model, factor)
    done = _already_uploaded(client, target, source_digest)
    if done is not None:
        yield StepSkipped("extend", f"{target.name} was already built from this base")
        yield StepSkipped("upload", f"the server already has {done.digest}")
    else:
        fresh = yield from _extend(target, factor, source_digest, shown, base_model, work,
                                   report, models_dir, registry)  # fmt: skip
        done = yield from _upload(client, target, fresh, report)
    assert done.digest is not None
    body = create_body(
        shown, model_name, target.name, done.digest, num_ctx, system, parameters, template
    )
    yield from _create(client, model_name, num_ctx, body)
    if not keep_gguf:
        target.unlink(missing_ok=True)
    gguf = str(target) if target.exists() else ""
    yield LongVariantReady("done", model_name, gguf, done.digest, done.context_length, num_ctx)


def _show_base(client: Client, base_model: str) -> Any:
    from .errors import ModelNotFoundError

    try:
        return client.show(base_model)
    except ModelNotFoundError:
        raise SetupError(
            f"the base model {base_model} is not on the server",
            step="download",
            hint=f"pull it first: `ollama pull {base_model}` (or run `qwenkit setup`)",
        ) from None


def _already_uploaded(client: Client, target: Path, source_digest: str | None) -> _Sidecar | None:
    """The sidecar, when it proves the server holds the extended blob of this very base."""
    known = _Sidecar.read(target)
    if known is None or known.digest is None or known.source_digest != source_digest:
        return None
    if target.exists() and not known.describes(target):
        return None  # the file was rewritten since: trust the file, not the note
    return known if client.has_blob(known.digest) else None


def _extend(
    target: Path,
    factor: float,
    source_digest: str | None,
    shown: Any,
    base_model: str,
    work: Path,
    report: StepProgress,
    models_dir: str | os.PathLike[str] | None,
    registry: str | None,
) -> Generator[LongEvent, None, _Sidecar]:
    """Write `target` unless it already is the YaRN copy of this base."""
    known = _Sidecar.read(target)
    if known and known.describes(target) and known.source_digest == source_digest:
        info = read_context_info(target)
        if info.rope_scaling_type == "yarn" and info.factor == float(factor):
            yield StepSkipped("extend", f"{target.name} is already extended")
            return known
    downloaded = None
    source = locate_local_gguf(shown.modelfile, models_dir=models_dir)
    if source is not None:
        yield StepSkipped("download", f"reading the server's blob {source}")
    else:
        source = downloaded = yield from _download(base_model, work, report, registry,
                                                   source_digest)  # fmt: skip
    yield StepStarted("extend", f"writing {target.name} (YaRN x{factor:g})")
    _Sidecar.path_for(target).unlink(missing_ok=True)
    extend_context(
        source, target, factor=factor, overwrite=True, progress=lambda d, t: report("extend", d, t)
    )
    if downloaded is not None:
        downloaded.unlink(missing_ok=True)  # 4-15 GB we no longer need
    sidecar = _Sidecar.of(target, source_digest)
    sidecar.write(target)
    return sidecar


def _download(
    base_model: str,
    work: Path,
    report: StepProgress,
    registry: str | None,
    server_digest: str | None,
) -> Generator[LongEvent, None, Path]:
    from .registry import DEFAULT_REGISTRY, download_blob, fetch_manifest

    registry = registry or DEFAULT_REGISTRY
    yield StepStarted("download", f"fetching {base_model} from {registry}")
    layer = fetch_manifest(base_model, registry=registry).model_layer
    if server_digest and layer.digest != server_digest:
        yield StepNotice("download", "the registry has a newer build than the server's copy")
    return download_blob(
        base_model,
        layer.digest,
        work / layer.digest.replace(":", "-"),
        size=layer.size,
        registry=registry,
        progress=lambda d, t: report("download", d, t),
    )


def _upload(
    client: Client, target: Path, sidecar: _Sidecar, report: StepProgress
) -> Generator[LongEvent, None, _Sidecar]:
    yield StepStarted("upload", f"hashing and uploading {target.name}")
    digest = client.create_blob(target, progress=lambda d, t: report("upload", d, t))
    done = _Sidecar.of(target, sidecar.source_digest, digest)
    done.write(target)
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
    from .verify import parse_show_parameters

    params = parse_show_parameters(getattr(shown, "parameters", None))
    params.update(parameters or {})
    params["num_ctx"] = num_ctx
    body: dict[str, Any] = {
        "model": model_name,
        "files": {file_name: digest},
        "parameters": params,
    }
    template = template or getattr(shown, "template", None)
    if template:
        body["template"] = template
    license_text = getattr(shown, "license", None)
    if license_text:
        body["license"] = license_text
    system = system if system is not None else getattr(shown, "system", None)
    if system:
        body["system"] = system
    return body


# ------------------------------------------------------------------------ long-input check


FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
)
FILLER_TOKENS = 24  # Qwen2 BPE: one token per word and per full stop


@dataclass(frozen=True)
class PasskeyPrompt:
    """A prompt of about `approx_tokens` tokens with `passkey` stated in the middle."""

    prompt: str
    passkey: str
    approx_tokens: int


def passkey_prompt(n_tokens: int, *, seed: int | None = None, depth: float = 0.5) -> PasskeyPrompt:
    """Build the pass-key retrieval prompt (filler, the fact at `depth`, filler, question).

    >>> p = passkey_prompt(1000, seed=1)
    >>> p.passkey in p.prompt and 900 <= p.approx_tokens <= 1100
    True
    """
    if n_tokens < 100:
        raise QwenkitError(f"a long-input check needs at least 100 tokens, not {n_tokens}")
    rng = random.Random(seed)
    passkey, session = str(rng.randint(10000, 99999)), rng.randint(1000, 9999)
    fact = f"The pass key is {passkey}. Remember it. {passkey} is the pass key. "
    units = max(1, (n_tokens - 60) // FILLER_TOKENS)
    before = round(units * depth)
    prompt = (  # the session number up front defeats prompt-cache reuse between runs
        f"Session {session}. There is an important pass key hidden inside a lot of "
        "irrelevant text. Find it and memorize it.\n\n"
        + FILLER * before
        + fact
        + FILLER * (units - before)
        + "\nWhat is the pass key? Answer with the number only."
    )
    return PasskeyPrompt(prompt, passkey, units * FILLER_TOKENS + 60)


def answer_has_passkey(answer: str, passkey: str) -> bool:
    """True when the answer states the pass key as a whole number.

    >>> answer_has_passkey("The pass key is 48213.", "48213"), answer_has_passkey("148213", "48213")
    (True, False)
    """
    return passkey in re.findall(r"\d+", answer.replace(",", ""))


@dataclass(frozen=True)
class LongInputResult:
    """Outcome of `long_input_check`; `prompt_tokens` is what the server really evaluated."""

    kind: ClassVar[str] = "long_check"
    model: str
    passed: bool
    passkey: str
    answer: str
    requested_tokens: int
    prompt_tokens: int | None
    seconds: float
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


def long_input_check(
    client: Client,
    model: str,
    n_tokens: int,
    *,
    num_ctx: int | None = None,
    seed: int | None = None,
) -> LongInputResult:
    """Send ~`n_tokens` with a pass key in the middle; pass when the answer repeats it.

    `truncated` is set when the server evaluated clearly fewer tokens than were sent (the
    context was smaller than the prompt); then a pass proves nothing about long inputs.
    """
    built = passkey_prompt(n_tokens, seed=seed)
    options: dict[str, Any] = {"temperature": 0, "num_predict": 16}
    if num_ctx is not None:
        options["num_ctx"] = num_ctx
    start = time.monotonic()
    reply = client.chat(model, [{"role": "user", "content": built.prompt}], options=options)
    seconds = time.monotonic() - start
    answer = reply.message.content or ""
    evaluated = getattr(reply, "prompt_eval_count", None)
    truncated = evaluated is not None and evaluated < 0.8 * built.approx_tokens
    return LongInputResult(
        model,
        answer_has_passkey(answer, built.passkey) and not truncated,
        built.passkey,
        answer.strip(),
        built.approx_tokens,
        evaluated,
        seconds,
        truncated,
    )


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
    "create_body",
    "extended_name",
    "locate_local_gguf",
    "long_input_check",
    "passkey_prompt",
]
