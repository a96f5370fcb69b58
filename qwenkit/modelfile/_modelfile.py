"""The Modelfile as a value: parse Ollama's text, write it back, turn it into `/api/create` JSON.

`Modelfile.parse` reads exactly what `ollama create` reads (same tokeniser, same errors, same
parameter typing), and `render` writes text that parses back to an equal `Modelfile` — or
refuses, naming the field, when a value cannot be written in a Modelfile at all. Since Ollama
v0.5.5 the server no longer takes Modelfile text, so `to_create_request` builds the structured
body that `ollama create` itself sends.

>>> mf = Modelfile.parse('FROM qwen2.5:7b-instruct\\nPARAMETER num_ctx 8192\\nSYSTEM  Be brief.\\n')
>>> mf.from_, mf.parameters, mf.system
('qwen2.5:7b-instruct', {'num_ctx': 8192}, 'Be brief.')
>>> print(mf.render(), end="")
FROM qwen2.5:7b-instruct
PARAMETER num_ctx 8192
SYSTEM Be brief.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._common.params import DEPRECATED_PARAMETERS, PARAMETER_KINDS
from ..errors import ModelfileError
from . import _grammar as grammar
from . import _params as params
from ._params import ParamValue

#: Single-valued text instructions, in the order `render` writes them after MESSAGE/LICENSE.
_TRAILING_TEXT = ("renderer", "parser", "requires", "draft")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SEMVER_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    r"v(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*)"
    rf"(?:-{_SEMVER_ID}(?:\.{_SEMVER_ID})*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?",
    re.ASCII,
)


class DeprecatedParameterWarning(UserWarning):
    """A PARAMETER that `ollama create` accepts, warns about, and drops (e.g. `mirostat`)."""


@dataclass(kw_only=True)
class Modelfile:
    """One Modelfile, after Ollama's repetition rules: last FROM/SYSTEM/... wins, lists keep all.

    `parameters` maps Ollama option names to typed values (`stop` is always a list); floats
    are held as the float32 Ollama stores, written as their shortest decimal. Construction
    checks names and types the way `ollama create` does.
    """

    from_: str
    system: str | None = None
    template: str | None = None
    parameters: dict[str, ParamValue] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None
    draft: str | None = None

    def __post_init__(self) -> None:
        self._normalize()

    # ------------------------------------------------------------------ reading

    @classmethod
    def parse(cls, text: str | bytes) -> Modelfile:
        """Read Modelfile text (or file bytes: UTF-8, or UTF-16 with BOM) like `ollama create`.

        Raises `ModelfileError` with Ollama's message: `(line N): command must be one of …`,
        `(line N): message role must be one of …`, `unexpected EOF…`, `no FROM line`,
        `unknown parameter '<name>'`, `invalid int value [<v>]` (and float/bool), or the
        `requires` semver error. Deprecated parameters are dropped with a
        `DeprecatedParameterWarning`.
        """
        values: dict[str, Any] = {"parameters": {}, "messages": [], "license": [], "adapters": []}
        for command in grammar.tokenize(grammar.decode(text)):
            _apply(values, command)
        return cls(**values)

    # ------------------------------------------------------------------ writing

    def render(self, *, header: str | None = None) -> str:
        """Modelfile text that `parse` (and Ollama) reads back to this exact value.

        Order: FROM, ADAPTER, PARAMETER (in `options.PARAMETER_KINDS` order, `stop` lines in
        list order), TEMPLATE, SYSTEM, MESSAGE, LICENSE, RENDERER, PARSER, REQUIRES, DRAFT.
        `header` lines become `#` comments at the top. A value no Modelfile can hold raises
        `ModelfileError` with `.field` naming it (send such values via `to_create_request`).
        """
        self._normalize()
        lines = [f"# {part}" for part in _split_lines(header)] if header is not None else []
        lines.append(f"FROM {_writable(self.from_, 'from_')}")
        lines += [f"ADAPTER {_writable(path, 'adapters')}" for path in self.adapters]
        lines += _parameter_lines(self.parameters)
        for name in ("template", "system"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"{name.upper()} {_writable(value, name)}")
        for message in self.messages:
            content = _writable(message["content"], "messages")
            lines.append(f"MESSAGE {message['role']} {content}")
        lines += [f"LICENSE {_writable(text, 'license')}" for text in self.license]
        for name in _TRAILING_TEXT:
            value = getattr(self, name)
            if value is not None:
                lines.append(f"{name.upper()} {_writable(value, name)}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ /api/create

    def local_files(self, base_dir: Path | None = None) -> dict[str, Path]:
        """Local files `/api/create` needs as blobs, keyed by the name Ollama gives them.

        FROM counts when it names an existing file (`~` expanded, relative paths against
        `base_dir`, default the current directory); otherwise it is a model name. ADAPTER and
        DRAFT must exist, as `ollama create` requires. Keys are base names.
        """
        return {name: path for _, name, path in self._local_entries(base_dir)}

    def to_create_request(
        self,
        model: str,
        *,
        blobs: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
    ) -> dict[str, Any]:
        """The JSON body `ollama create` sends to `POST /api/create` for this Modelfile.

        A local FROM/ADAPTER/DRAFT file becomes `files`/`adapters`/`draft_files`
        `{name: digest}`; upload it first (`POST /api/blobs/<digest>`) and pass
        `blobs={name: "sha256:<hex>"}` (names from `local_files`). Empty `system`/`template`
        are left out: the server reads `""` as "not given" and keeps the base model's value.
        Only one ADAPTER is accepted (the server supports one). `requires` loses its `v`.
        """
        self._normalize()
        if not model:
            raise ModelfileError("the model name is empty", hint="pass a name such as my-qwen")
        if not self.from_:
            raise ModelfileError("FROM is empty", field="from_", hint="name a model or a file")
        if len(self.adapters) > 1:
            raise ModelfileError(
                f"{len(self.adapters)} ADAPTER lines, but Ollama supports only one adapter",
                field="adapters",
            )
        body: dict[str, Any] = {"model": model}
        for kind, name, path in self._local_entries(base_dir):
            body.setdefault(kind, {})[name] = _digest_for(name, path, blobs or {})
        if "files" not in body:
            body["from"] = self.from_
        body.update(self._json_fields())
        return body

    def _json_fields(self) -> dict[str, Any]:
        """Everything but the model source, as `/api/create` fields (empty ones left out)."""
        fields: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("template", "system", "renderer", "parser")
            if getattr(self, name)
        }
        if self.parameters:
            fields["parameters"] = {
                name: list(value) if isinstance(value, list) else value
                for name, value in self.parameters.items()
            }
        if self.messages:
            fields["messages"] = [dict(message) for message in self.messages]
        if self.license:
            fields["license"] = list(self.license)
        if self.requires:
            fields["requires"] = self.requires.removeprefix("v")
        return fields

    def _local_entries(self, base_dir: Path | None) -> list[tuple[str, str, Path]]:
        """(request key, short name, absolute path) for each local file, in request order."""
        base = Path.cwd() if base_dir is None else Path(base_dir)
        entries: list[tuple[str, str, Path]] = []
        source = _expand_path(self.from_, base) if self.from_ else None
        if source is not None and source.exists():
            if source.is_dir():
                raise ModelfileError(
                    f"FROM {self.from_} is a directory; qwenkit creates models from a GGUF file",
                    field="from_",
                    hint="point FROM at the .gguf file itself",
                )
            entries.append(("files", source.name, source))
        for key, label, paths in (
            ("adapters", "ADAPTER", self.adapters),
            ("draft_files", "DRAFT", [self.draft] if self.draft else []),
        ):
            for raw in paths:
                path = _expand_path(raw, base)
                if not path.is_file():
                    raise ModelfileError(
                        f"stat {path}: no such file or directory",
                        field=key if key == "adapters" else "draft",
                        hint=f"{label} must name an existing local file",
                    )
                entries.append((key, path.name, path))
        _refuse_name_clashes(entries)
        return entries

    # ------------------------------------------------------------------ checks

    def _normalize(self) -> None:
        """Check names and types, copy containers, round floats to float32 (as Ollama does)."""
        self.from_ = _text(self.from_, "from_")
        for name in ("system", "template", "renderer", "parser", "requires", "draft"):
            value = getattr(self, name)
            setattr(self, name, None if value is None else _text(value, name))
        if self.requires is not None:
            _check_requires(self.requires)
        self.license = _text_list(self.license, "license")
        self.adapters = _text_list(self.adapters, "adapters")
        self.messages = [_message(item, index) for index, item in enumerate(self.messages)]
        if not isinstance(self.parameters, Mapping):
            raise ModelfileError("parameters must be a mapping", field="parameters")
        normalized: dict[str, ParamValue] = {}
        for name, value in self.parameters.items():
            if name in DEPRECATED_PARAMETERS:
                _warn_deprecated(name, stacklevel=5)
                continue
            normalized[name] = params.normalize_parameter(name, value)
        self.parameters = normalized


# ---------------------------------------------------------------------- parse helpers


def _apply(values: dict[str, Any], command: grammar.Command) -> None:
    """Fold one command into the fields, with `ollama create`'s repetition rules."""
    name, args = command.name, command.args
    if name == "model":
        values["from_"] = args
    elif name in ("system", "template", "renderer", "parser", "draft"):
        values[name] = args
    elif name == "requires":
        _check_requires(args)
        values["requires"] = args
    elif name == "license":
        values["license"].append(args)
    elif name == "adapter":
        values["adapters"].append(args)
    elif name == "message":
        values["messages"].append({"role": command.role or "", "content": args})
    elif name in DEPRECATED_PARAMETERS:
        _warn_deprecated(name, stacklevel=4)
    else:
        typed = params.parse_parameter(name, args, command.line)
        held = values["parameters"]
        if isinstance(typed, list):
            held.setdefault(name, []).extend(typed)
        else:
            held[name] = typed


def _warn_deprecated(name: str, *, stacklevel: int) -> None:
    warnings.warn(
        f"parameter {name} is deprecated; Ollama ignores it, so it was dropped",
        DeprecatedParameterWarning,
        stacklevel=stacklevel,
    )


def _check_requires(text: str) -> None:
    """`REQUIRES` must be semver (`v` optional), as `ollama create` checks it."""
    version = text if text.startswith("v") else "v" + text
    if not _SEMVER.fullmatch(version):
        raise ModelfileError(
            "requires must be a valid semver (e.g. 0.14.0)",
            field="requires",
            hint="write the minimum Ollama version, such as 0.14.0",
        )


# ---------------------------------------------------------------------- construction checks


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ModelfileError(f"{name} must be a string, not {type(value).__name__}", field=name)
    return value


def _text_list(value: object, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ModelfileError(f"{name} must be a list of strings", field=name)
    return [_text(item, name) for item in value]


def _message(item: object, index: int) -> dict[str, str]:
    if not isinstance(item, Mapping) or set(item) != {"role", "content"}:
        raise ModelfileError(
            f"messages[{index}] must be a mapping with exactly 'role' and 'content'",
            field="messages",
        )
    role, content = item["role"], item["content"]
    if role not in grammar.ROLES:
        raise ModelfileError(
            f"messages[{index}]: {grammar.ERR_ROLE}, not {role!r}",
            field="messages",
            hint="a Modelfile cannot hold tool messages; pass them per request instead",
        )
    return {"role": role, "content": _text(content, "messages")}


# ---------------------------------------------------------------------- render helpers


def _writable(value: str, field_name: str) -> str:
    """The value as Modelfile text, or a ModelfileError naming the field."""
    reason = grammar.unrepresentable(value)
    if reason is not None:
        raise ModelfileError(
            f"{field_name} cannot be written in a Modelfile: it {reason}",
            field=field_name,
            hint="send it through the API instead (Modelfile.to_create_request has no such limit)",
        )
    return grammar.quote(value)


def _parameter_lines(parameters: Mapping[str, ParamValue]) -> list[str]:
    lines: list[str] = []
    for name in PARAMETER_KINDS:
        if name not in parameters:
            continue
        value = parameters[name]
        if isinstance(value, list):
            if not value:
                raise ModelfileError(
                    "an empty stop list cannot be written in a Modelfile (it would mean "
                    "'inherit the base model's stops', not 'no stops')",
                    field="parameters.stop",
                    hint="drop the key, or send it through Modelfile.to_create_request",
                )
            lines += [f"PARAMETER stop {_writable(stop, 'parameters.stop')}" for stop in value]
        elif isinstance(value, bool):
            lines.append(f"PARAMETER {name} {'true' if value else 'false'}")
        elif isinstance(value, float):
            lines.append(f"PARAMETER {name} {params.format_float32(value)}")
        else:
            lines.append(f"PARAMETER {name} {value}")
    return lines


def _split_lines(text: str) -> list[str]:
    """Split on every line break Ollama knows (CR, LF), so no comment line can end early."""
    return re.split(r"\r\n|\r|\n", text)


# ---------------------------------------------------------------------- paths


def _expand_path(raw: str, base: Path) -> Path:
    """Ollama's `expandPath`: absolute as is, `~`/`~user` expanded, else relative to base."""
    if os.path.isabs(raw) or raw.startswith(("/", "\\")):
        return Path(os.path.abspath(raw))
    if raw.startswith("~"):
        return Path(os.path.abspath(os.path.expanduser(raw)))
    return Path(os.path.abspath(base / raw))


def _refuse_name_clashes(entries: list[tuple[str, str, Path]]) -> None:
    """Two different files under one short name would overwrite each other on upload."""
    seen: dict[str, Path] = {}
    for _, name, path in entries:
        if seen.setdefault(name, path) != path:
            raise ModelfileError(
                f"two local files share the name {name!r}: {seen[name]} and {path}",
                hint="rename one; Ollama identifies uploaded files by base name",
            )


def _digest_for(name: str, path: Path, blobs: Mapping[str, str]) -> str:
    digest = blobs.get(name)
    if digest is None:
        raise ModelfileError(
            f"no blob digest for the local file {name} ({path})",
            hint="upload it first (POST /api/blobs/sha256:<hex>) and pass blobs={name: digest}",
        )
    if not _DIGEST.fullmatch(digest):
        raise ModelfileError(
            f"blob digest for {name} is not sha256:<64 hex digits>: {digest!r}",
        )
    return digest


__all__ = ["DeprecatedParameterWarning", "Modelfile", "ParamValue"]
