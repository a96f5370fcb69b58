"""The long (YaRN) variant inside `qwenkit setup`: when to build it, at what context, and
when the server already holds it so a rerun changes nothing.

The building itself (GGUF, extend, upload, create) is `qwenkit.longctx`; this module only
decides and checks, so setup stays a straight line of steps.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._common.checks import Check, verdict
from ..catalog import LONG_CTX
from ..errors import ModelNotFoundError, PlanError
from ..variants import VARIANTS
from .verify import ExpectedModel, Placement, check_loaded, model_differences

# `qwenkit.longctx` is imported inside the three functions that use it: it loads gguf and
# numpy (~300 ms, `python -X importtime -c "import qwenkit.longctx"`), which `qwenkit status`
# and a setup without `--long` never need.

if TYPE_CHECKING:
    from ..client import Client
    from ..hardware import HardwareProfile
    from ..longctx import LongEvent, StepProgress
    from ..planner import Plan

LONG_KEY = "long"


def wants_long(variants: Sequence[str], chosen: Plan) -> bool:
    """Asked for by name, or needed because the plan's context is beyond the trained 32K."""
    return LONG_KEY in variants or chosen.needs_yarn


def long_num_ctx(chosen: Plan) -> int:
    """The plan's context when it needs YaRN; otherwise the full 128K YaRN range."""
    return chosen.num_ctx if chosen.needs_yarn else LONG_CTX


def long_expected(name: str, chosen: Plan, template: str | None = None) -> ExpectedModel:
    """What the long variant must look like: the `long` variant's own system and parameters.

    `template` is the one it is created with (see `longctx.chat_template`); None leaves the
    template out of the comparison, as verification after setup does.
    """
    num_ctx = long_num_ctx(chosen)
    modelfile = VARIANTS[LONG_KEY].build(chosen.quantization, num_ctx)
    params = {k: v for k, v in modelfile.parameters.items() if k != "num_ctx"}
    return ExpectedModel(name, num_ctx, modelfile.system, params, template, chosen.quantization)


def trained_context(shown: Any) -> int:
    """The context the model's GGUF declares (`<arch>.context_length`), 0 if unknown."""
    info = getattr(shown, "model_info", None) or {}
    arch = info.get("general.architecture", "qwen2")
    try:
        return int(info.get(f"{arch}.context_length") or 0)
    except (TypeError, ValueError):
        return 0


def build_long(
    api: Client,
    name: str,
    chosen: Plan,
    *,
    workdir: Path,
    models_dir: str | None = None,
    progress: StepProgress | None = None,
) -> Generator[LongEvent, None, str]:
    """Create or refresh the long variant; returns `created`, `updated` or `unchanged`.

    It is created with the `long` variant's system prompt and parameters, and the base
    model's TEMPLATE when the server has one (Qwen2.5's own otherwise); a long model whose
    template or settings drifted from that is rebuilt.
    """
    from ..longctx import build_long_variant

    expected = long_expected(name, chosen, _base_template(api, chosen.tag))
    try:
        shown = api.show(name)
    except ModelNotFoundError:
        shown = None
    if shown is not None and is_current(shown, expected):
        return "unchanged"
    yield from build_long_variant(
        api,
        base_model=chosen.tag,
        model_name=name,
        num_ctx=expected.num_ctx,
        workdir=workdir,
        system=expected.system,
        parameters=dict(expected.parameters),
        template=expected.template,
        progress=progress,
        models_dir=models_dir,
    )
    return "created" if shown is None else "updated"


def _base_template(api: Client, base: str) -> str | None:
    """The template the long variant gets from `base`; None when the base is not on the server
    (then `build_long_variant` says so, unless the long variant needs no rebuild)."""
    from ..longctx import chat_template

    try:
        return chat_template(api.show(base))
    except ModelNotFoundError:
        return None


def is_current(shown: Any, expected: ExpectedModel) -> bool:
    """Same parameters/system/quantization, and a GGUF that really declares the long context."""
    return not model_differences(shown, expected) and trained_context(shown) >= expected.num_ctx


def check_long_context(api: Client, expected: ExpectedModel) -> Check:
    """The long variant's GGUF declares a context at least as long as its num_ctx (YaRN)."""
    shown = api.show(expected.name)
    info = getattr(shown, "model_info", None) or {}
    trained = trained_context(shown)
    scaling = info.get("qwen2.rope.scaling.type") or "none"
    ok = trained >= expected.num_ctx and scaling == "yarn"
    return Check(
        "yarn",
        verdict(ok),
        f"GGUF context {trained}, rope scaling {scaling}",
        "" if ok else "rebuild it: `qwenkit setup --variants long --force`",
        model=expected.name,
        expected=f">= {expected.num_ctx} with yarn",
        data={"context_length": trained, "rope_scaling": scaling},
    )


def long_fit_problem(profile: HardwareProfile, chosen: Plan, num_ctx: int) -> str | None:
    """Why `num_ctx` tokens of the chosen quantization do not fit this machine as planned
    (None when they do): the planner's own memory model, asked for exactly that context."""
    from ..planner import plan

    try:
        fitted = plan(profile, target_ctx=num_ctx, quant=chosen.quantization)
    except PlanError as err:
        return str(err)
    if fitted.num_ctx < num_ctx:
        return f"{num_ctx} tokens do not fit with {chosen.quantization} (at most {fitted.num_ctx})"
    if fitted.offload != chosen.offload:
        return f"{num_ctx} tokens would run {fitted.offload}, not {chosen.offload} as planned"
    return None


def check_long_load(
    api: Client, expected: ExpectedModel, problem: str | None, placement: Placement
) -> list[Check]:
    """Load the long variant at its num_ctx and read `/api/ps`, as for the other variants;
    when the plan says that context does not fit here, a skipped check says so instead."""
    if problem is None:
        return check_loaded(api, expected, placement=placement)
    return [
        Check(
            "context",
            "skip",
            f"not loaded: {problem}",
            "use a shorter --ctx, or a machine with more memory, for the long variant",
            model=expected.name,
            expected=f"{expected.num_ctx}",
            data={"planned": expected.num_ctx, "reason": problem},
        )
    ]


def check_long_input(api: Client, name: str, n_tokens: int, num_ctx: int) -> Check:
    """`--long-check N`: a pass key buried in ~N tokens must come back in the answer."""
    from ..longctx import long_input_check

    result = long_input_check(api, name, n_tokens, num_ctx=num_ctx)
    found = "found" if result.passed else "NOT found"
    evaluated = result.prompt_tokens if result.prompt_tokens is not None else "?"
    return Check(
        "long_input",
        verdict(result.passed),
        f"pass key {found} after {evaluated} prompt tokens in {result.seconds:.1f}s",
        "the prompt was cut to the context" if result.truncated else "",
        model=name,
        expected=f"the pass key {result.passkey} from ~{n_tokens} tokens",
        data={"prompt_tokens": result.prompt_tokens, "truncated": result.truncated},
    )
