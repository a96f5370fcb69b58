"""Proof that Ollama runs the created variants the way the plan says.

Each check asks the server, never our own files: `/api/show` for what was stored, a tiny warm-up
chat and `/api/ps` for what was actually loaded (the silent clamp of `num_ctx` to 32768 and a
partial CPU offload only show up there), then one JSON-mode and one tool request, each capped
at `ANSWER_TOKENS` (uncapped, a model that never closes its JSON runs to 10 × num_ctx tokens:
minutes, and a check holding half a megabyte of text). Every check
reports pass/fail with the numbers it saw, so a failure says by how much, not just "failed".
A failed check is a result, not an exception; the caller decides (the CLI exits with 5).
A busy or restarting server (503, a dropped connection) is asked again with back-off before
a check fails: one answer from a loaded server is not a verdict on the model.
"""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .._common.checks import Check, verdict
from .._common.names import model_present
from .._common.retry import RetryPolicy
from ..client.tools import empty_answer_note
from ..errors import (
    EmptyToolAnswerWarning,
    ModelNotFoundError,
    OllamaError,
    OllamaUnavailableError,
    ProtocolError,
    ResponseError,
)
from ..longctx import blob_digest
from ..modelfile import parse_show_parameters

if TYPE_CHECKING:
    from ..client import Client
    from ..modelfile import Modelfile
    from ..types import ChatResponse, ListResponse, ProcessResponse, RunningModel, ShowResponse

Placement = Literal["gpu", "cpu", "partial"]
T = TypeVar("T")

#: HTTP answers that say "not now" rather than "no": busy (503), gateway trouble, rate limits.
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
#: Five tries with waits of 0.5, 1, 2 and 4 s between them: a busy server gets ~7.5 s.
BUSY_RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=4.0)

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)")

#: tokens a verification answer may take: a small JSON object or one tool call needs ~40
ANSWER_TOKENS = 256
#: characters of an answer a check keeps in its `data`
KEPT_CHARS = 500

#: a tool the model is asked to call during verification
PROBE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_current_time",
        "description": "Get the current time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "IANA zone name"}},
            "required": ["timezone"],
        },
    },
}


@dataclass(frozen=True)
class ExpectedModel:
    """What one created variant must look like on the server."""

    name: str
    num_ctx: int
    system: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    template: str | None = None
    quantization: str | None = None


def expected_model(name: str, modelfile: Modelfile, quantization: str | None) -> ExpectedModel:
    """What the server must hold for `name` to count as created from `modelfile`.

    Setup compares with the Modelfile it renders, `status` with the one on disk.
    """
    params = dict(modelfile.parameters)
    return ExpectedModel(
        name=name,
        num_ctx=int(str(params.pop("num_ctx", 0))),
        system=modelfile.system,
        parameters=params,
        template=modelfile.template,
        quantization=quantization,
    )


def transient(err: OllamaError) -> bool:
    """Worth asking again: a busy server, or a connection that dropped (restart, crash)."""
    if isinstance(err, ResponseError):
        return err.status_code in TRANSIENT_STATUS
    return isinstance(err, (OllamaUnavailableError, ProtocolError))


def retrying(call: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, repeated after each transient failure with the `BUSY_RETRY` back-off; the
    last failure, or any other error, is raised."""
    failures = 0
    while True:
        try:
            return call()
        except OllamaError as err:
            failures = BUSY_RETRY.failed(failures, progressed=False)
            if not transient(err) or BUSY_RETRY.gives_up(failures):
                raise
        sleep(BUSY_RETRY.delay(failures))


def parameter_mismatches(expected: Mapping[str, Any], observed: Mapping[str, Any]) -> list[str]:
    """`name: expected X, got Y` for each expected parameter the server does not hold.

    >>> parameter_mismatches({"top_k": 20, "stop": ["a", "b"]}, {"top_k": 40, "stop": ["b", "a"]})
    ['top_k: expected 20, got 40']
    """
    out = []
    for name, want in expected.items():
        got = observed.get(name)
        if not _same_value(want, got):
            out.append(f"{name}: expected {want!r}, got {got!r}")
    return out


def model_differences(shown: ShowResponse, model: ExpectedModel) -> list[str]:
    """How a `/api/show` answer differs from `model` (empty: the server holds it as planned).

    Parameters are compared as a subset (the base model adds its own), `stop` as a set;
    system and template only when planned; the quantization via `details`.
    """
    params = parse_show_parameters(shown.parameters)
    problems = parameter_mismatches({**model.parameters, "num_ctx": model.num_ctx}, params)
    if model.system is not None and (shown.system or "").strip() != model.system.strip():
        problems.append("system prompt differs")
    if model.template is not None and (shown.template or "").strip() != model.template.strip():
        problems.append("template differs")
    level = shown.details.quantization_level if shown.details else None
    if model.quantization and level and level.lower() != model.quantization.lower():
        problems.append(f"quantization: expected {model.quantization}, got {level}")
    return problems


def check_config(client: Client, model: ExpectedModel) -> Check:
    """`/api/show` holds the planned num_ctx, system prompt and parameters."""
    try:
        shown = retrying(lambda: client.show(model.name))
    except OllamaError as err:
        failed = f"show failed: {err}"
        return Check("config", "fail", failed, model=model.name, expected="the model")
    params = parse_show_parameters(shown.parameters)
    problems = model_differences(shown, model)
    wrong = sum(1 for name in model.parameters if any(p.startswith(f"{name}:") for p in problems))
    planned = len(model.parameters)
    observed = f"num_ctx {params.get('num_ctx', 'unset')}, {planned - wrong}/{planned} parameters"
    return Check(
        "config",
        verdict(not problems),
        observed + ("; " + "; ".join(problems) if problems else ""),
        hint="rerun `qwenkit setup` to recreate the variant" if problems else "",
        model=model.name,
        expected=f"num_ctx {model.num_ctx}, {len(model.parameters)} planned parameters",
        data={"num_ctx": params.get("num_ctx"), "mismatches": problems},
    )


def check_loaded(
    client: Client,
    model: ExpectedModel,
    *,
    placement: Placement = "gpu",
    smaller_plan: str | None = None,
) -> list[Check]:
    """Warm the model up (its own num_ctx, one token), then read `/api/ps`: the context really
    used, and where it runs."""
    hello = [{"role": "user", "content": "Reply with OK."}]
    try:
        retrying(lambda: client.chat(model.name, hello, options={"num_predict": 1}))
        running = _find_running(client, retrying(client.ps), retrying(client.list), model.name)
    except OllamaError as err:
        return [
            Check(
                "load",
                "fail",
                f"warm-up chat failed: {err}",
                hint=err.hint or "see the Ollama server log for the load error",
                model=model.name,
                expected="a one-token answer",
            )
        ]
    if running is None:
        return [
            Check(
                "load",
                "fail",
                "not listed by /api/ps after a chat",
                hint="the model unloaded at once; is OLLAMA_KEEP_ALIVE=0 set?",
                model=model.name,
                expected="the model listed by /api/ps",
            )
        ]
    return [
        _context_check(model, running.context_length),
        _offload_check(model, running, placement, smaller_plan),
    ]


def check_json(client: Client, model: str) -> Check:
    """A `format: "json"` request comes back as a JSON object."""
    prompt = 'Return a JSON object {"ok": true, "name": "qwenkit"} and nothing else.'
    capped = {"num_predict": ANSWER_TOKENS}
    messages = [{"role": "user", "content": prompt}]
    try:
        reply = retrying(lambda: client.chat(model, messages, format="json", options=capped))
    except OllamaError as err:
        failed = f"request failed: {err}"
        return Check("json", "fail", failed, model=model, expected="a JSON object")
    content = reply.message.content
    data = _answer_data(reply, content)
    try:
        value = json.loads(content)
    except ValueError:
        cut = reply.done_reason == "length"
        return Check(
            "json",
            "fail",
            (f"cut at {ANSWER_TOKENS} tokens, JSON not closed: " if cut else "not JSON: ")
            + repr(_clip(content)),
            model=model,
            expected="a JSON object",
            data=data,
        )
    return Check(
        "json",
        verdict(isinstance(value, dict)),
        f"{type(value).__name__}: {_clip(content)}",
        model=model,
        expected="a JSON object",
        data=data,
    )


def check_tools(client: Client, model: str) -> Check:
    """A request with one tool comes back as a call to that tool."""
    prompt = "What time is it in Tokyo right now? Use the tool."
    capped = {"num_predict": ANSWER_TOKENS}
    messages = [{"role": "user", "content": prompt}]
    try:
        with warnings.catch_warnings():  # an empty answer is this check's to explain
            warnings.simplefilter("ignore", EmptyToolAnswerWarning)
            reply = retrying(
                lambda: client.chat(model, messages, tools=[PROBE_TOOL], options=capped)
            )
    except OllamaError as err:
        failed = f"request failed: {err}"
        wanted = f"a {PROBE_TOOL['function']['name']} call"
        return Check("tools", "fail", failed, err.hint or "", model=model, expected=wanted)
    calls = list(reply.message.tool_calls or [])
    names = [call.function.name for call in calls]
    wanted = PROBE_TOOL["function"]["name"]
    content = reply.message.content
    hint = ""
    if names:
        observed = f"tool calls: {', '.join(names)}"
        if wanted not in names:
            hint = f"the model called another tool than the one offered ({wanted})"
    elif content.strip():
        observed = f"no tool call; answered {_clip(content)!r}"
        hint = "the model answered in text: check that the variant's TEMPLATE has the tools block"
    elif reply.done_reason == "length":
        observed = f"no tool call within {ANSWER_TOKENS} tokens"
    else:
        observed = "no tool call and no text (an empty answer)"
        hint = empty_answer_note([wanted])
    return Check(
        "tools",
        verdict(wanted in names),
        observed,
        hint,
        model=model,
        expected=f"a {wanted} call",
        data={"tool_calls": names, **_answer_data(reply, content)},
    )


def _answer_data(reply: ChatResponse, content: str) -> dict[str, Any]:
    """What a check keeps of an answer: its start, its size and why it ended."""
    return {
        "content": content[:KEPT_CHARS],
        "chars": len(content),
        "done_reason": reply.done_reason,
        "eval_count": reply.eval_count,
    }


def run_checks(
    client: Client,
    models: Sequence[ExpectedModel],
    *,
    json_model: str | None = None,
    tools_model: str | None = None,
    placement: Placement = "gpu",
    smaller_plan: str | None = None,
) -> Iterator[Check]:
    """All checks, config first for every model, then load/json/tools on one model each."""
    if not models:
        return
    for model in models:
        yield check_config(client, model)
    yield from check_loaded(client, models[0], placement=placement, smaller_plan=smaller_plan)
    yield check_json(client, json_model or models[0].name)
    yield check_tools(client, tools_model or models[0].name)


def _context_check(model: ExpectedModel, used: int | None) -> Check:
    if used is None:
        return Check(
            "context",
            "skip",
            "not reported (server older than 0.10.0)",
            model=model.name,
            expected=f"{model.num_ctx}",
        )
    ok = used >= model.num_ctx
    hint = ""
    if not ok:
        hint = (
            f"Ollama clamped num_ctx from {model.num_ctx} to {used} (the model's trained "
            f"context); use --ctx {used}, or the YaRN `long` variant for more"
        )
    return Check(
        "context",
        verdict(ok),
        f"context_length {used}",
        hint,
        model=model.name,
        expected=f"{model.num_ctx}",
        data={"context_length": used, "planned": model.num_ctx},
    )


def _offload_check(
    model: ExpectedModel, running: RunningModel, placement: Placement, smaller_plan: str | None
) -> Check:
    size, vram = running.size, running.size_vram
    share = vram / size if size else 0.0
    observed = f"{share:.0%} in VRAM ({vram} of {size} bytes)"
    data = {"size": size, "size_vram": vram}
    if placement == "cpu":
        return Check(
            "offload",
            "pass",
            observed,
            model=model.name,
            expected="CPU (no GPU planned)",
            data=data,
        )
    if placement == "partial":
        return Check(
            "offload",
            verdict(vram > 0),
            observed,
            model=model.name,
            expected="partly on GPU, as planned",
            data=data,
        )
    ok = size > 0 and vram >= size
    hint = ""
    if not ok:
        hint = "part of the model runs on the CPU, so the plan was too big for the GPU"
        hint += f"; try the next smaller plan: {smaller_plan}" if smaller_plan else ""
    return Check(
        "offload", verdict(ok), observed, hint, model=model.name, expected="100% in VRAM", data=data
    )


def _current_digest(listed: ListResponse, name: str) -> str | None:
    """The digest `/api/tags` has for `name` now (None when it does not list it)."""
    entry = next((m for m in listed.models if model_present([m.name or m.model], name)), None)
    return entry.digest or None if entry is not None else None


def _find_running(
    client: Client, ps: ProcessResponse, listed: ListResponse, name: str
) -> RunningModel | None:
    """The `/api/ps` entry of the runner that just answered `name`'s warm-up.

    Ollama 0.32 keys a runner by its weights file and lists it under the model that loaded
    it, with that model's digest of the time (`server/sched.go`, `PsHandler`). So the name
    misleads both ways, and the digest alone misses a runner shared by two models:
    * an entry with the digest `/api/tags` has for `name` now is its own runner (a runner
      of a model re-created from another GGUF stays listed under the same name);
    * an entry of another model with the same weights (qwenkit-chat and qwenkit-json made
      from one blob) is a runner the two share, listed under the name that loaded it;
    * an entry whose digest no model has any more (re-created from the same GGUF, or
      deleted) holds weights we cannot name: it counts, the one expiring last (the warm-up
      just renewed its runner's; ps sorts by whole seconds only).
    """
    digest = _current_digest(listed, name)
    if digest is None:  # a server without digests: by name
        return next((m for m in ps.models if model_present([m.name or m.model], name)), None)
    own = next((m for m in ps.models if m.digest == digest), None)
    if own is not None:
        return own

    def weights(model: str) -> str | None:
        return retrying(lambda: weights_of(client, model))

    mine = weights(name)
    if mine is None:
        return None
    current = {m.digest: m.name or m.model for m in listed.models if m.digest}
    sharing = [
        m for m in ps.models if m.digest not in current or weights(current[m.digest]) == mine
    ]
    return max(sharing, key=lambda m: _expiry(m.expires_at), default=None)


def _expiry(stamp: str | None) -> datetime:
    """`expires_at` as a time: Go writes RFC 3339 with up to 9 fractional digits, which
    `fromisoformat` (Python 3.10) does not read; unreadable counts as long expired.

    >>> _expiry("2026-12-02T23:02:19.338771178Z") > _expiry("2026-12-02T23:02:19.3387Z")
    True
    """
    match = _RFC3339.fullmatch(stamp or "")
    if match is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    return datetime.fromisoformat(f"{whole}.{(fraction or '').ljust(6, '0')[:6]}{zone}")


def weights_of(client: Client, name: str) -> str | None:
    """The digest of the blob `name` runs (its `/api/show` `FROM` line), None if unknown."""
    try:
        return blob_digest(client.show(name).modelfile)
    except ModelNotFoundError:
        return None


def _same_value(want: Any, got: Any) -> bool:
    if isinstance(want, (list, tuple)):
        return isinstance(got, list) and sorted(map(str, want)) == sorted(map(str, got))
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(want == got)
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(float(want), float(got), rel_tol=1e-6, abs_tol=1e-9)
    return bool(want == got)


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
