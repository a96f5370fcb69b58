"""`qwenkit status` / `doctor` as data: what the server holds and runs, and what will bite.

The report is built from observations (server answers, the Modelfiles on disk, optionally
`docker ps`) by small pure rules, so each pitfall is testable without a server. A pitfall is
a `Check` that fails (it makes the setup behave other than planned) or a note (worth knowing,
the report stays ok). Nothing here prints; `qwenkit.cli.status` renders the report.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._common.checks import Check, failing
from .._common.config import is_local_host, resolve_host
from ..client import Client
from ..errors import ModelNotFoundError, OllamaError, QwenkitError
from ..hardware import LoadedModel
from ..longctx import blob_digest
from ..modelfile import Modelfile, parse_show_parameters
from ..variants import is_pristine, modelfile_filename
from .server_env import default_context, default_context_note
from .verify import ExpectedModel, expected_model, model_differences, weights_of

if TYPE_CHECKING:
    from ..client import Client

DockerLister = Callable[[], list[str] | None]


@dataclass(frozen=True)
class VariantState:
    """One qwenkit variant: on the server? matching its Modelfile? with which num_ctx?"""

    name: str
    exists: bool
    num_ctx: int | None = None
    modelfile: str | None = None
    matches: bool | None = None  # None: no local Modelfile to compare with
    differences: list[str] = field(default_factory=list)
    edited: bool = False  # the Modelfile is the user's edit, not the file qwenkit wrote
    modelfile_error: str | None = None  # the Modelfile cannot be read or Ollama would refuse it
    digest: str | None = None  # the manifest digest `/api/tags` lists now
    weights: str | None = None  # the GGUF blob it runs (`sha256:<hex>`), from its FROM line


@dataclass
class StatusReport:
    host: str
    reachable: bool
    version: str | None = None
    error: str | None = None
    variants: list[VariantState] = field(default_factory=list)
    loaded: list[LoadedModel] = field(default_factory=list)
    #: loaded digest -> the other variants its runner answers (the same GGUF): Ollama 0.32
    #: runs one runner per weights file and lists it under the model that loaded it only
    sharing: dict[str, list[str]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def also_answers(self, loaded: LoadedModel) -> list[str]:
        """The variants the runner of `loaded` answers besides the one it is listed under."""
        return self.sharing.get(loaded.digest or loaded.name, [])

    @property
    def failures(self) -> list[Check]:
        return failing(self.checks)

    @property
    def ok(self) -> bool:
        return self.reachable and not self.failures

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# ---------------------------------------------------------------------------- gathering


def gather_status(
    client: Client,
    *,
    prefix: str = "qwenkit",
    modelfiles_dir: Path = Path("modelfiles"),
    docker_containers: DockerLister | None = None,
) -> StatusReport:
    """Ask the server, read the Modelfiles, apply the pitfall rules."""
    host = client.host
    report = StatusReport(host=host, reachable=False)
    try:
        report.version = str(client.version())
    except OllamaError as err:
        report.error = str(err)
        report.checks.append(Check("server", "fail", str(err), err.hint or ""))
        return report
    report.reachable = True
    digests = {(m.name or m.model).removesuffix(":latest"): m.digest for m in client.list().models}
    report.variants = [
        _variant_state(client, name, modelfiles_dir, digests[name])
        for name in variant_names(digests, prefix)
    ]
    report.loaded = [LoadedModel.of(m) for m in client.ps().models]
    report.sharing = _sharing(client, report, digests)
    lister = docker_containers or list_docker_containers
    report.checks = pitfalls(report, prefix=prefix, containers=_maybe(lister, host))
    return report


def variant_names(names: Iterable[str], prefix: str) -> list[str]:
    """Model names that belong to qwenkit under `prefix`, without the `:latest` tag.

    >>> variant_names(["qwenkit-chat:latest", "llama3:8b", "qwenkit-json:latest"], "qwenkit")
    ['qwenkit-chat', 'qwenkit-json']
    """
    found = []
    for name in names:
        base = name.removesuffix(":latest")
        if base.startswith(prefix + "-"):
            found.append(base)
    return sorted(set(found))


def _variant_state(client: Client, name: str, modelfiles_dir: Path, digest: str) -> VariantState:
    try:
        shown = client.show(name)
    except ModelNotFoundError:
        return VariantState(name, exists=False)
    params = parse_show_parameters(shown.parameters)
    num_ctx = params.get("num_ctx")
    state = VariantState(
        name, True, num_ctx, digest=digest or None, weights=blob_digest(shown.modelfile)
    )
    local = _read_modelfile(name, modelfiles_dir)
    if local.expected is None:
        return replace(state, modelfile=local.path, modelfile_error=local.error)
    differences = model_differences(shown, local.expected)
    return replace(
        state,
        modelfile=local.path,
        matches=not differences,
        differences=differences,
        edited=local.edited,
    )


def _sharing(client: Client, report: StatusReport, digests: dict[str, str]) -> dict[str, list[str]]:
    """For each runner listed under a current model: the variants it answers besides that
    model, those of the same GGUF and num_ctx (qwenkit-json and qwenkit-agent under
    qwenkit-chat, or all of them under the base tag they were made from); a variant with
    another num_ctx would reload it."""
    variants = {v.name: v for v in report.variants if v.weights}
    out: dict[str, list[str]] = {}
    for m in report.loaded:
        name = m.name.removesuffix(":latest")
        if is_stale(m, digests):
            continue
        own = variants.get(name)
        blob = own.weights if own else weights_of(client, name)
        contexts = {own.num_ctx if own else None, m.context_length} - {None}
        others = [
            v.name
            for v in variants.values()
            if v.weights == blob and v.name != name and v.num_ctx in contexts
        ]
        if blob and others:
            out[m.digest or m.name] = sorted(others)
    return out


def is_stale(m: LoadedModel, digests: Mapping[str, str]) -> bool:
    """The runner was loaded by a model since re-created or deleted: `/api/ps` still lists
    it with the digest the name had then (Ollama keeps it until it expires or reloads)."""
    return bool(m.digest) and digests.get(m.name.removesuffix(":latest")) != m.digest


@dataclass(frozen=True)
class _LocalModelfile:
    path: str | None = None
    expected: ExpectedModel | None = None
    edited: bool = False
    error: str | None = None


def _read_modelfile(name: str, directory: Path) -> _LocalModelfile:
    """The Modelfile on disk, read as Ollama reads it (UTF-8, or UTF-16 with a BOM)."""

    path = directory / modelfile_filename(name)
    try:
        data = path.read_bytes()
        modelfile = Modelfile.parse(data)
    except (FileNotFoundError, IsADirectoryError):
        return _LocalModelfile()
    except OSError as exc:
        return _LocalModelfile(str(path), error=f"cannot read it: {exc.strerror or exc}")
    except QwenkitError as err:
        return _LocalModelfile(str(path), error=str(err))
    edited = not is_pristine(data.decode("utf-8", errors="replace"))
    return _LocalModelfile(str(path), expected_model(name, modelfile, None), edited)


def list_docker_containers() -> list[str] | None:
    """`image name` of each running container, or None when docker is absent or refuses."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        done = subprocess.run(
            [docker, "ps", "--format", "{{.Image}} {{.Names}}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def _maybe(lister: DockerLister, host: str) -> list[str] | None:
    return lister() if is_local_host(host) else None


# ---------------------------------------------------------------------------- rules


def pitfalls(
    report: StatusReport, *, prefix: str = "qwenkit", containers: Sequence[str] | None = None
) -> list[Check]:
    """Every rule applied to the observations: the failures first, then the notes."""
    found: list[Check] = []
    found += _missing_variants(report, prefix)
    found += _variant_rules(report)
    found += _loaded_rules(report)
    found += _docker_rules(report, containers)
    found += [Check("server", "note", n) for n in default_context_note(report.version)]
    return sorted(found, key=lambda c: not c.failed)


def _missing_variants(report: StatusReport, prefix: str) -> list[Check]:
    if report.variants:
        return []
    missing = f"no {prefix}-* variants on this server"
    return [Check("variants", "fail", missing, "create them with `qwenkit setup`")]


def _variant_rules(report: StatusReport) -> list[Check]:
    found = []
    fallback = default_context(report.version)
    for v in report.variants:
        if v.exists and v.num_ctx is None:
            found.append(
                Check(
                    "num_ctx",
                    "fail",
                    f"no num_ctx, so it runs with the server default ({fallback})",
                    "recreate it with `qwenkit setup`",
                    model=v.name,
                )
            )
        if v.modelfile_error is not None:
            found.append(
                Check(
                    "modelfile",
                    "fail",
                    f"{v.modelfile}: {v.modelfile_error}",
                    "fix that line (Ollama reads the file the same way), or put the plan's "
                    "version back with `qwenkit setup --force`",
                    model=v.name,
                )
            )
        if v.matches is False:
            found.append(_mismatch(v))
    return found


def _mismatch(v: VariantState) -> Check:
    detail = f"no longer matches {v.modelfile}: {'; '.join(v.differences)}"
    hint = "rerun `qwenkit setup` to recreate it from the plan"
    if v.edited:
        hint = (
            f"apply your edits with `qwenkit setup` (it creates {v.name} from the edited file) "
            f"or `ollama create {v.name} -f {v.modelfile}`; `qwenkit setup --force` restores "
            "the plan's version"
        )
    return Check("config", "fail", detail, hint, model=v.name)


def _loaded_rules(report: StatusReport) -> list[Check]:
    planned = {v.name: v.num_ctx for v in report.variants}
    digests = {v.name: v.digest for v in report.variants if v.digest}
    found = []
    for m in report.loaded:
        want = planned.get(m.name.removesuffix(":latest"))
        short = m.context_length is not None and want is not None and m.context_length < want
        if short and is_stale(m, digests):
            found.append(
                Check(
                    "context",
                    "note",
                    "still loaded as it was before it was re-created (context "
                    f"{m.context_length}); its next request loads it with num_ctx {want}",
                    model=m.name,
                )
            )
        elif short:
            found.append(
                Check(
                    "context",
                    "fail",
                    f"runs with {m.context_length} tokens of context, not its num_ctx {want} "
                    "(clamped to the model's trained context)",
                    "use --ctx 32768, or the YaRN `long` variant for more",
                    model=m.name,
                )
            )
        if m.size and m.size_vram < m.size:
            found.append(_offload_pitfall(m))
    return found


def _offload_pitfall(m: LoadedModel) -> Check:
    if m.size_vram == 0:
        return Check("offload", "note", "runs entirely on the CPU", model=m.name)
    return Check(
        "offload",
        "fail",
        f"only {m.vram_share:.0%} in VRAM; the rest runs on the CPU (slow)",
        "rerun `qwenkit setup` with a smaller --quant or --ctx",
        model=m.name,
    )


def _docker_rules(report: StatusReport, containers: Sequence[str] | None) -> list[Check]:
    if not containers or not is_local_host(report.host):
        return []
    if not any("open-webui" in line for line in containers):
        return []
    return [
        Check(
            "docker",
            "note",
            "Open WebUI runs in Docker while qwenkit talks to Ollama on loopback; if Ollama "
            "listens only on 127.0.0.1 the container cannot reach it",
            "bind Ollama to the Docker bridge address, e.g. OLLAMA_HOST=172.17.0.1 (see "
            "`ip -4 addr show docker0`; 0.0.0.0 also works but exposes Ollama's unauthenticated "
            "API to your network), or run the container with --network=host; "
            "`qwenkit status --webui URL` checks the pairing",
        )
    ]


def connect_and_gather(
    host: str | None = None,
    *,
    prefix: str = "qwenkit",
    modelfiles_dir: Path = Path("modelfiles"),
    timeout: float = 10.0,
) -> StatusReport:
    """`gather_status` with a client of its own, closed afterwards."""

    with Client(resolve_host(host), timeout=timeout) as client:
        return gather_status(client, prefix=prefix, modelfiles_dir=modelfiles_dir)
