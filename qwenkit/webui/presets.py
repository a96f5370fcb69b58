"""One Open WebUI workspace preset per qwenkit variant, kept in step with the Ollama model.

Design (observed with open-webui 0.12.4):

* The preset's id IS the Ollama model's id (`qwenkit-chat:latest`) with no `base_model_id`:
  Open WebUI then overrides that model in place, so the model selector shows each variant
  once, under its display name, instead of a raw entry plus a preset.
* `params.num_ctx` is the value the Ollama model was created with, read from `/api/show` of
  the Ollama that Open WebUI itself uses (its `/ollama/` proxy), else of `--host`. A different
  value would make Ollama reload the model whenever requests alternate between the two
  (open-webui.md §3). `--ctx` is used only when no Ollama can be read; a `--ctx` that
  disagrees with Ollama loses, with a warning. A value read from nowhere is never written.
* Idempotent: read the preset, write only when a field qwenkit owns differs. Create answers
  401 on an existing id in 0.12.4, so existence is checked first, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._common.names import full_name
from ..catalog import DEFAULT_QUANT
from ..errors import OllamaUnavailableError, WebUIError
from ..variants import DEFAULT_VARIANTS, VARIANTS, get_variant, model_name
from ._http import OpenWebUI
from ._ollama import ModelSettings, read_models, read_models_through_webui


@dataclass(frozen=True)
class PresetSpec:
    """What qwenkit wants Open WebUI to hold for one variant."""

    variant: str
    id: str  # the Ollama model id, e.g. "qwenkit-chat:latest"
    name: str
    description: str
    system: str | None
    num_ctx: int

    def body(self) -> dict[str, Any]:
        """The `ModelForm` Open WebUI's create/update routes take."""
        params: dict[str, Any] = {"num_ctx": self.num_ctx}
        if self.system:
            params["system"] = self.system
        return {
            "id": self.id,
            "base_model_id": None,
            "name": self.name,
            "meta": {"description": self.description},
            "params": params,
            "is_active": True,
        }


@dataclass
class SyncResult:
    """What `sync_presets` did, per preset id; `warnings` are for the user."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    specs: list[PresetSpec] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "warnings": self.warnings,
            "presets": [{"id": s.id, "name": s.name, "num_ctx": s.num_ctx} for s in self.specs],
        }


def build_spec(
    variant: str,
    *,
    prefix: str = "qwenkit",
    ollama: ModelSettings | None = None,
    ctx: int | None = None,
    warnings: list[str] | None = None,
) -> PresetSpec | None:
    """Pure: the preset for `variant`, from the Ollama model's settings when known.

    None (with a warning) when neither Ollama nor `ctx` says which num_ctx the model runs at:
    a guessed value would make Ollama reload the model on every switch.
    """

    info = VARIANTS[variant]
    model_id = full_name(model_name(variant, prefix))
    notes = warnings if warnings is not None else []
    num_ctx = ollama.num_ctx if ollama is not None else None
    if num_ctx is not None and ctx is not None and ctx != num_ctx:
        notes.append(
            f"{model_id}: --ctx {ctx} ignored; the Ollama model has num_ctx "
            f"{num_ctx} and the preset must match it"
        )
    if num_ctx is None and ollama is not None:
        notes.append(
            f"{model_id} has no num_ctx in Ollama, so chats run at Ollama's default context; "
            "re-create it with `qwenkit setup`"
            + ("" if ctx is not None else " (no preset written: pass --ctx to write one anyway)")
        )
    num_ctx = num_ctx if num_ctx is not None else ctx
    if num_ctx is None:
        return None
    system = info.build(DEFAULT_QUANT, num_ctx).system  # also refuses a ctx the variant can't take
    if ollama is not None and ollama.system:
        system = ollama.system
    name = f"{prefix} {info.title} ({num_ctx // 1024}K)"
    return PresetSpec(variant, model_id, name, info.description, system, num_ctx)


def differences(existing: Mapping[str, Any], spec: PresetSpec) -> list[str]:
    """Pure: which qwenkit-owned fields of an existing preset differ from `spec`.

    Only the keys qwenkit sets are compared, so a user's extra params (a temperature,
    an image, tags) neither trigger an update nor get flagged.
    """
    wanted = spec.body()
    params = existing.get("params") or {}
    meta = existing.get("meta") or {}
    diffs = [key for key in ("name", "base_model_id") if existing.get(key) != wanted[key]]
    diffs += [f"params.{k}" for k, v in wanted["params"].items() if params.get(k) != v]
    if spec.system is None and params.get("system"):
        diffs.append("params.system")
    if meta.get("description") != spec.description:
        diffs.append("meta.description")
    if existing.get("is_active") is False:
        diffs.append("is_active")
    return diffs


def merged_body(existing: Mapping[str, Any], spec: PresetSpec) -> dict[str, Any]:
    """The update body: qwenkit's fields over the user's, so their extra params survive."""
    body = spec.body()
    params = {k: v for k, v in (existing.get("params") or {}).items() if k != "system"}
    body["params"] = {**params, **body["params"]}
    body["meta"] = {**(existing.get("meta") or {}), **body["meta"]}
    return body


def sync_presets(webui: OpenWebUI, specs: Iterable[PresetSpec]) -> SyncResult:
    """Create or update each preset; refresh Open WebUI's model list when anything changed."""
    result = SyncResult(specs=list(specs))
    for spec in result.specs:
        existing = webui.get_preset(spec.id)
        if existing is None:
            webui.create_preset(spec.body())
            result.created.append(spec.id)
        elif differences(existing, spec):
            webui.update_preset(merged_body(existing, spec))
            result.updated.append(spec.id)
        else:
            result.unchanged.append(spec.id)
    if result.changed:
        # presets are not visible to every route until the model list is rebuilt (§4.3)
        webui.models(refresh=True)
    return result


def choose_variants(requested: Iterable[str] | None, present: Iterable[str] = ()) -> list[str]:
    """The variants to sync: as asked, else the default ones plus any other Ollama already has.

    `present` holds variant names whose Ollama model exists (e.g. `long` after a YaRN setup).
    """

    if requested:
        chosen = list(dict.fromkeys(requested))
        for name in chosen:
            get_variant(name)  # the same error (and exit code 2) as `qwenkit setup --variants`
        return chosen
    extra = set(present)
    return [v for v in VARIANTS if v in DEFAULT_VARIANTS or v in extra]


def plan_presets(
    variants: Iterable[str] | None,
    *,
    host: str | None,
    prefix: str = "qwenkit",
    ctx: int | None = None,
    webui: OpenWebUI | None = None,
) -> tuple[list[PresetSpec], list[str]]:
    """Read the variants' models from Ollama, then build their presets.

    The Ollama read is the one Open WebUI is connected to (through `webui`'s `/ollama/`
    proxy), falling back to `host`. When none answers, `ctx` is the only num_ctx allowed;
    without it `WebUIError` stops the sync before anything is written.
    """

    warnings: list[str] = []
    names = {v: full_name(model_name(v, prefix)) for v in VARIANTS}
    found, failures = _read_ollama(list(names.values()), webui, host)
    if found is None:
        if ctx is None:
            raise WebUIError(
                "cannot read the models' num_ctx from Ollama (" + "; ".join(failures) + ")",
                hint="pass --host with the Ollama Open WebUI uses, or --ctx with the num_ctx "
                "the models were created with (a guessed value makes Ollama reload the model)",
            )
        found = {}
        warnings.append(
            f"no Ollama could be read ({'; '.join(failures)}): num_ctx {ctx} is the one from --ctx"
        )
    present = [v for v, name in names.items() if found.get(name) is not None]
    specs: list[PresetSpec] = []
    for variant in choose_variants(variants, present):
        name = names[variant]
        if found and found.get(name) is None:
            warnings.append(f"{name} is not in Ollama yet: create it with `qwenkit setup`")
            if ctx is None:
                continue
        spec = build_spec(
            variant, prefix=prefix, ollama=found.get(name), ctx=ctx, warnings=warnings
        )
        if spec is not None:
            specs.append(spec)
    return specs, warnings


def _read_ollama(
    names: list[str], webui: OpenWebUI | None, host: str | None
) -> tuple[dict[str, ModelSettings | None] | None, list[str]]:
    """The models from the first Ollama that answers: Open WebUI's own, then `host`."""
    failures: list[str] = []
    if webui is not None:
        try:
            return read_models_through_webui(webui, names), failures
        except (OllamaUnavailableError, WebUIError) as err:
            failures.append(f"Open WebUI's Ollama connection: {err.hint or err}")
    if host is not None:
        try:
            return read_models(host, names), failures
        except OllamaUnavailableError:
            failures.append(f"Ollama at {host} did not answer")
    return None, failures or ["no Ollama to read: give --host"]
