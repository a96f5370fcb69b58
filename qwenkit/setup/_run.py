"""`qwenkit setup` as a library: a generator of typed events that never prints.

```python
from qwenkit.setup import SetupOptions, run_setup

for event in run_setup(SetupOptions(dry_run=True)):
    print(event.to_dict())
```

The steps run in the order the user needs them: probe and plan; reach the server (before the
confirmation, so nobody confirms a plan for a server that is not there); confirm; pull; write
the Modelfiles; create each variant unless the server already holds it unchanged; verify;
summarise. Every step is idempotent, so "rerun the same command" is the answer to any
interruption: Ollama keeps partial downloads, and a create is atomic per model.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._common.checks import Check
from .._common.config import is_local_host, resolve_host
from .._common.names import model_present
from ..catalog import DEFAULT_CTX, quant_tag
from ..client import Client
from ..errors import InvalidRequestError, ModelNotFoundError, OllamaUnavailableError, QwenkitError
from ..hardware import HardwareProfile, probe
from ..modelfile import Modelfile
from ..planner import Plan, plan, smaller_plan
from ..variants import (
    DEFAULT_VARIANTS,
    VARIANTS,
    get_variant,
    model_name,
    modelfile_filename,
    render_variant,
)
from . import pull as _pull
from ._files import Target, inspect_target, write_target
from ._long import (
    LONG_KEY,
    build_long,
    check_long_context,
    check_long_input,
    check_long_load,
    long_expected,
    long_fit_problem,
    wants_long,
)
from .events import (
    Cancelled,
    Event,
    ModelCreated,
    ModelfileWritten,
    Notice,
    Planned,
    Probed,
    Proposal,
    ServerReached,
    Summary,
)
from .server_env import server_env_guide, version_notes
from .verify import (
    ExpectedModel,
    check_config,
    expected_model,
    model_differences,
    run_checks,
)

if TYPE_CHECKING:
    from ..longctx import StepProgress


@dataclass(frozen=True)
class SetupOptions:
    """Everything `qwenkit setup` can be told; the CLI flags map one to one."""

    host: str | None = None
    quant: str | None = None
    ctx: int | None = None
    parallel: int = 1
    allow_fp16: bool = False
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    prefix: str = "qwenkit"
    out: Path = Path("modelfiles")
    force: bool = False
    dry_run: bool = False
    verify: bool = True
    #: seconds without a byte on the pull stream before it counts as stalled
    stall_timeout: float = 120.0
    #: tokens of the pass-key test for the long variant (None: skip it)
    long_check: int | None = None


@dataclass(frozen=True)
class _Variant:
    """One variant as this run will create it: from the plan, or from the user's edited file."""

    name: str
    variant: str
    planned: Modelfile
    target: Target

    @property
    def path(self) -> Path:
        return self.target.path

    @property
    def modelfile(self) -> Modelfile:
        """What the server gets: the user's edited file wins over the plan."""
        return self.target.edited or self.planned

    def expected(self, quantization: str) -> ExpectedModel:
        """What the server must hold; an edited FROM makes the plan's quantization moot."""
        same_base = self.modelfile.from_ == self.planned.from_
        return expected_model(self.name, self.modelfile, quantization if same_base else None)


# ---------------------------------------------------------------------------- the flow


def run_setup(
    options: SetupOptions,
    *,
    confirm: Callable[[Plan], bool] | None = None,
    client: Client | None = None,
    profile: HardwareProfile | None = None,
    long_progress: StepProgress | None = None,
) -> Iterator[Event | Check]:
    """Probe, plan, pull, write, create, verify; see the module docstring.

    `confirm` is asked once the plan and the server are known; returning False stops with
    `Cancelled` before anything changes. `long_progress(step, done, total)` receives the
    byte progress of the long variant's download/extend/upload. `client`/`profile` replace
    the real ones in tests.
    """
    for key in options.variants:
        get_variant(key)  # an unknown name stops here, before the probe
    host = resolve_host(options.host)
    if profile is None:
        profile = probe(host=host, query_server=not options.dry_run)
    yield Probed(profile.to_dict())
    chosen = _plan(profile, options)
    if options.long_check and not wants_long(options.variants, chosen):
        raise InvalidRequestError(
            "--long-check tests the long variant, which this run does not create",
            hint="add --variants long (or --ctx above 32768), or leave --long-check out",
        )
    yield Planned(chosen.to_dict())
    yield from _host_notes(host)
    variants = _variants(chosen, options)  # every write target checked before any pull
    if options.dry_run:
        yield from _dry_run(chosen, variants, options)
        return
    owned = client is None
    api = client if client is not None else _connect(host)
    run = _Run(api, host, profile, chosen, options, variants, long_progress)
    try:
        yield from _run_online(run, confirm)
    finally:
        if owned:
            api.close()


@dataclass(frozen=True)
class _Run:
    """What every online step needs."""

    api: Client
    host: str
    profile: HardwareProfile
    chosen: Plan
    options: SetupOptions
    variants: list[_Variant]
    long_progress: StepProgress | None = None


def _dry_run(chosen: Plan, variants: list[_Variant], options: SetupOptions) -> Iterator[Event]:
    yield from _write_modelfiles(variants)
    if wants_long(options.variants, chosen):
        yield Notice("the long variant is built on the server; --dry-run skips it", "note")
    yield _summary(chosen, variants, [], [], dry_run=True)


def _run_online(run: _Run, confirm: Callable[[Plan], bool] | None) -> Iterator[Event | Check]:
    version = _server_version(run.api, run.host)
    yield ServerReached(run.host, version)
    for note in version_notes(version, run.chosen.to_dict()):
        yield Notice(note)
    yield _proposal(run)
    if confirm is not None and not confirm(run.chosen):
        yield Cancelled()
        return
    yield from _pull_base(run)
    variants = run.variants
    yield from _write_modelfiles(variants)
    for variant in variants:
        yield _create(run.api, variant, run.chosen)
    long = yield from _long(run)
    models = [v.name for v in variants] + ([long.name] if long else [])
    checks: list[Check] = []
    if run.options.verify:
        for check in _verify(run, variants, long):
            checks.append(check)
            yield check
    yield _summary(run.chosen, variants, models, checks)


def _long(run: _Run) -> Generator[Event, None, ExpectedModel | None]:
    """The YaRN variant when asked for or needed; its expected shape for verification."""
    if not wants_long(run.options.variants, run.chosen):
        return None
    name = model_name(LONG_KEY, prefix=run.options.prefix)
    models_dir = run.profile.models_dir if is_local_host(run.host) else None
    action = yield from build_long(
        run.api,
        name,
        run.chosen,
        workdir=run.options.out / LONG_KEY,
        models_dir=models_dir,
        progress=run.long_progress,
    )
    yield ModelCreated(name, action)
    return long_expected(name, run.chosen)


def _plan(profile: HardwareProfile, options: SetupOptions) -> Plan:

    return plan(
        profile,
        target_ctx=options.ctx,
        quant=options.quant,
        parallel=options.parallel,
        allow_fp16=options.allow_fp16,
    )


def _host_notes(host: str) -> Iterator[Notice]:
    if not is_local_host(host):
        yield Notice(
            f"Ollama runs at {host}, but the plan is for this machine's hardware; "
            "run setup on the server itself (or pass --quant/--ctx) if they differ",
            level="note",
        )


def _connect(host: str) -> Client:

    return Client(host)


def _server_version(api: Client, host: str) -> str:
    try:
        return str(api.version())
    except OllamaUnavailableError as err:
        if err.unresolved:
            raise
        err.hint = (
            f"nothing answered at {host}: "
            "install Ollama from https://ollama.com/download and start it (`ollama serve`, "
            "or the desktop app), or point --host/OLLAMA_HOST at a running server; "
            "`qwenkit setup --dry-run` plans and writes the Modelfiles without a server"
        )
        raise


# ---------------------------------------------------------------------------- pull


def _pull_base(run: _Run) -> Iterator[_pull.PullEvent]:
    chosen = run.chosen
    names = [m.name or m.model for m in run.api.list().models]
    if model_present(names, chosen.tag):
        yield _pull.PullSkipped(chosen.tag)
        return
    if is_local_host(run.host):
        need = quant_tag(chosen.quantization).size_bytes
        _pull.check_disk_space(run.profile.disk_free_bytes, need, model=chosen.tag)

    # Its own client: a read timeout here means a stalled download, not a slow model load.
    with Client(run.host, timeout=run.options.stall_timeout) as puller:
        yield from _pull.pull_model(puller, chosen.tag)


# ---------------------------------------------------------------------------- Modelfiles


def _variants(chosen: Plan, options: SetupOptions) -> list[_Variant]:
    """The library-tag variants; above 32K they keep 32K (Ollama would clamp them anyway).

    Each Modelfile path is inspected here, before the confirmation and the pull.
    """
    out: list[_Variant] = []
    for key in options.variants:
        if VARIANTS[key].from_gguf:
            continue  # the long variant is built by the long-context step
        name = model_name(key, prefix=options.prefix)
        ctx = min(chosen.num_ctx, DEFAULT_CTX)
        planned = VARIANTS[key].build(chosen.quantization, ctx)
        text = render_variant(key, chosen.quantization, ctx, prefix=options.prefix)
        path = options.out / modelfile_filename(name)
        out.append(_Variant(name, key, planned, inspect_target(path, text, force=options.force)))
    return out


def _write_modelfiles(variants: Sequence[_Variant]) -> Iterator[ModelfileWritten | Notice]:
    for variant in variants:
        result = write_target(variant.target)
        yield ModelfileWritten(variant.name, str(variant.path), result)
        if result == "kept":
            yield Notice(
                f"{variant.path} has your edits: {variant.name} is created from it "
                "(`qwenkit setup --force` puts the plan's version back)",
                level="note",
            )


# ---------------------------------------------------------------------------- create


def _change(api: Client, variant: _Variant, chosen: Plan) -> tuple[str, list[str]]:
    """What creating `variant` will do to the server: created, updated (with the changes
    worded as changes, `num_ctx 32768 → 8192`) or unchanged."""
    try:
        shown = api.show(variant.name)
    except ModelNotFoundError:
        return "created", []
    differences = model_differences(shown, variant.expected(chosen.quantization))
    return ("updated" if differences else "unchanged"), [as_change(d) for d in differences]


def _create(api: Client, variant: _Variant, chosen: Plan) -> ModelCreated:
    action, changes = _change(api, variant, chosen)
    if action != "unchanged":
        body = variant.modelfile.to_create_request(variant.name)
        for _ in api.create_from_request(body, stream=True):
            pass
    return ModelCreated(variant.name, action, "; ".join(changes))


def _proposal(run: _Run) -> Proposal:
    """What the run is about to do, for the confirmation: download, models, files on disk."""
    chosen = run.chosen
    present = model_present([m.name or m.model for m in run.api.list().models], chosen.tag)
    models = []
    for variant in run.variants:
        action, changes = _change(run.api, variant, chosen)
        models.append({"model": variant.name, "action": action, "changes": changes})
    if wants_long(run.options.variants, chosen):
        name = model_name(LONG_KEY, prefix=run.options.prefix)
        models.append({"model": name, "action": "built (YaRN GGUF)", "changes": []})
    return Proposal(
        pull=None if present else chosen.tag,
        download_bytes=0 if present else quant_tag(chosen.quantization).size_bytes,
        models=models,
        modelfiles=[{"path": str(v.path), "action": v.target.action} for v in run.variants],
        stays=[
            f"{chosen.tag} ({quant_tag(chosen.quantization).size_bytes / 2**30:.1f} GiB) in "
            "Ollama's model store: the variants share its weights, nothing is copied",
            f"the Modelfiles in {run.options.out}/ (edit one and rerun to apply it)",
        ],
    )


def as_change(difference: str) -> str:
    """`num_ctx: expected 8192, got 32768` (a verification's words) as a change to make.

    >>> as_change("quantization: expected q5_K_M, got Q4_K_M"), as_change("template differs")
    ('quantization Q4_K_M → q5_K_M', 'template differs')
    """
    name, sep, rest = difference.partition(": expected ")
    wanted, sep2, current = rest.rpartition(", got ")
    return f"{name} {current} → {wanted}" if sep and sep2 else difference


# ---------------------------------------------------------------------------- verify


def _verify(run: _Run, variants: Sequence[_Variant], long: ExpectedModel | None) -> Iterator[Check]:
    chosen = run.chosen
    by_key = {v.variant: v.name for v in variants}
    expected = [v.expected(chosen.quantization) for v in variants]
    yield from run_checks(
        run.api,
        expected,
        json_model=by_key.get("json"),
        tools_model=by_key.get("agent"),
        placement=_placement(chosen),
        smaller_plan=_describe_smaller(run.profile, chosen),
    )
    if long is None:
        return
    yield check_config(run.api, long)
    yield check_long_context(run.api, long)
    problem = long_fit_problem(run.profile, chosen, long.num_ctx)
    yield from check_long_load(run.api, long, problem, _placement(chosen))
    if run.options.long_check:
        yield check_long_input(run.api, long.name, run.options.long_check, long.num_ctx)


def _placement(chosen: Plan) -> Any:
    return chosen.offload if chosen.offload in ("gpu", "cpu", "partial") else "gpu"


def _describe_smaller(profile: HardwareProfile, chosen: Plan) -> str | None:

    try:
        smaller = smaller_plan(profile, chosen)
    except QwenkitError:
        return None
    if smaller is None:
        return None
    return (
        f"{smaller.quantization} at {smaller.num_ctx} tokens "
        f"(`qwenkit setup --quant {smaller.quantization} --ctx {smaller.num_ctx}`)"
    )


# ---------------------------------------------------------------------------- summary


def _summary(
    chosen: Plan,
    variants: Sequence[_Variant],
    models: list[str],
    checks: Sequence[Check],
    *,
    dry_run: bool = False,
) -> Summary:
    return Summary(
        models=models,
        plan=chosen.to_dict(),
        modelfiles=[str(v.path) for v in variants],
        checks=[c.to_dict() for c in checks],
        server_env=server_env_guide(chosen.server_env).to_dict(),
        webui=webui_next_steps(),
        dry_run=dry_run,
    )


def webui_next_steps() -> list[str]:
    """How to pair Open WebUI with the variants just created."""
    return [
        "qwenkit webui compose   # a docker-compose file wired to this Ollama",
        "qwenkit webui sync      # register the qwenkit variants in a running Open WebUI",
    ]


__all__ = ["SetupOptions", "run_setup", "webui_next_steps"]
