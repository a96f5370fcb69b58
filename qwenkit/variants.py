"""The Qwen2.5-7B-Instruct variants qwenkit creates, each a pure function of (quant, num_ctx).

| variant | what it is for | built from |
| --- | --- | --- |
| `chat`  | general assistant, Qwen's recommended sampling | `qwen2.5:7b-instruct-<quant>` |
| `json`  | extraction: exactly one JSON value, low temperature | same |
| `agent` | tool use, steadier sampling | same |
| `long`  | contexts past 32K tokens (YaRN) | a local YaRN GGUF + the full TEMPLATE |

Every variant sets `num_ctx`, Qwen's stop tokens and its `TEMPLATE` explicitly, so nothing
depends on what the library model happens to ship. The template matters: the library
qwen2.5 template writes each tool as `{{ .Function }}`, which Ollama 0.14 and later render
as Go struct text (`{get_weather Current weather… {object <nil> …}}`), so a model
inheriting it never sees a JSON schema; `QWEN25_TEMPLATE` writes `{{ json .Function }}`.
The `long` variant is built from a bare GGUF file, which carries no Ollama template; setup
passes it the server's own, repaired by `repair_template`.

>>> mf = VARIANTS["json"].build("q4_K_M", 8192)
>>> mf.from_, mf.parameters["num_ctx"], mf.parameters["temperature"]
('qwen2.5:7b-instruct-q4_K_M', 8192, 0.1)
>>> model_name("agent"), modelfile_filename(model_name("agent"))
('qwenkit-agent', 'qwenkit-agent.Modelfile')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import catalog
from .errors import PlanError, QwenkitError
from .modelfile import Modelfile, ParamValue

#: The system prompt Qwen2.5's own chat template uses when none is given: the model was
#: trained with it, and Ollama's template does not add it, so the chat variant sets it.
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

JSON_SYSTEM = (
    "You are a data extraction engine. Answer with exactly one JSON value and nothing else: "
    "no prose before or after it, no Markdown code fences, no comments. Follow the schema or "
    "the field names the request gives, exactly. Use null for anything the input does not "
    "state; never invent values. Keep strings as they appear in the input."
)

AGENT_SYSTEM = (
    "You are Qwen, created by Alibaba Cloud. You are an agent that completes tasks by calling "
    "the tools you are given. Call a tool whenever it can answer better than you can from "
    "memory; use only the tools and parameters that are defined, with arguments that match "
    "their schema. Never invent a tool result: wait for it, read it, then decide the next "
    "step. When the task is done, or no tool fits, answer the user directly and concisely."
)

#: Qwen2.5's ChatML prompt with tools, as an Ollama Go template (see ollama-api.md §8.1).
#: System text and a `# Tools` section (each tool as {"type": "function", "function": ...}
#: inside <tools></tools>) share one system turn; assistant tool calls are <tool_call>
#: lines; tool results go back as user turns wrapped in <tool_response>; a trailing
#: assistant message is left open as a prefill, otherwise an assistant turn is opened.
#: The first text after `.ToolCalls` is `<tool_call>`, which is how Ollama finds the tag.
#: Tools go through `json`: Ollama's template value for a tool's function has no String
#: method since 0.14, so a bare `{{ .Function }}` prints Go struct text.
QWEN25_TEMPLATE = """\
{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{ if .System }}{{ .System }}{{ if .Tools }}

{{ end }}{{ end }}
{{- if .Tools }}# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ json .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments \
within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}
{{- if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and $last (ne .Role "assistant") }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""


#: `{{ .Function }}` alone (trim markers allowed): the tool schema as Go struct text
_BARE_FUNCTION = re.compile(r"\{\{(-?)\s*\.Function\s*(-?)\}\}")


def repair_template(template: str) -> str:
    """A chat template with every tool schema written as JSON (`{{ json .Function }}`).

    The library qwen2.5 template prints `{{ .Function }}`, Go struct text on Ollama 0.14+;
    everything else is kept as it is.

    >>> repair_template('{"function": {{ .Function }}} {{ .Function.Name }}')
    '{"function": {{ json .Function }}} {{ .Function.Name }}'
    """
    return _BARE_FUNCTION.sub(lambda m: f"{{{{{m[1]} json .Function {m[2]}}}}}", template)


class UnknownVariantError(QwenkitError):
    """A variant name qwenkit does not define."""

    exit_code = 2


@dataclass(frozen=True)
class Variant:
    """One model qwenkit creates: a name, a human title, and how to build its Modelfile."""

    name: str
    title: str
    description: str
    builder: Callable[..., Modelfile] = field(repr=False, compare=False)
    from_gguf: bool = False  # built FROM a local YaRN GGUF rather than the library tag

    def build(
        self, quant: str, num_ctx: int, *, system: str | None = None, **extra: str | None
    ) -> Modelfile:
        """The Modelfile for this variant; `system=""` leaves out the SYSTEM line.

        `extra` is for the `long` variant only: `gguf=` (path of the YaRN file) and
        `template=` (the server's qwen2.5 template, default `QWEN25_TEMPLATE`).
        """
        return self.builder(quant, num_ctx, system=system, **extra)


def _base_parameters(num_ctx: int, sampling: Mapping[str, float | int]) -> dict[str, ParamValue]:
    params: dict[str, ParamValue] = {"num_ctx": num_ctx}
    params.update(sampling)
    params["stop"] = list(catalog.STOP_TOKENS)
    return params


def _check_ctx(num_ctx: int, limit: int, variant: str) -> None:
    if isinstance(num_ctx, bool) or not isinstance(num_ctx, int) or not 256 <= num_ctx <= limit:
        hint = (
            f"use the long variant (YaRN GGUF) for more than {catalog.ARCH.context_length} tokens"
            if variant != "long" and isinstance(num_ctx, int) and num_ctx > limit
            else f"choose num_ctx between 256 and {limit}"
        )
        raise PlanError(
            f"num_ctx {num_ctx!r} does not fit the {variant} variant (at most {limit})",
            hint=hint,
        )


def _library_variant(
    variant: str,
    quant: str,
    num_ctx: int,
    system: str | None,
    default_system: str,
    sampling: Mapping[str, float | int],
) -> Modelfile:
    """FROM the library tag, with Qwen2.5's template in place of the inherited one (see the
    module docstring); Ollama clamps num_ctx to the trained 32K, so refuse more."""
    _check_ctx(num_ctx, catalog.ARCH.context_length, variant)
    prompt = default_system if system is None else system
    return Modelfile(
        from_=catalog.quant_tag(quant).tag,
        template=QWEN25_TEMPLATE,
        parameters=_base_parameters(num_ctx, sampling),
        system=prompt or None,
    )


def chat(quant: str, num_ctx: int, *, system: str | None = None) -> Modelfile:
    """General assistant with Qwen's recommended sampling and default system prompt."""
    return _library_variant("chat", quant, num_ctx, system, QWEN_DEFAULT_SYSTEM, catalog.SAMPLING)


JSON_SAMPLING: dict[str, float | int] = {
    "temperature": 0.1,
    "top_p": 0.8,
    "top_k": 20,
    # A repeat penalty punishes the quotes, commas and brackets JSON must repeat.
    "repeat_penalty": 1.0,
}


def json(quant: str, num_ctx: int, *, system: str | None = None) -> Modelfile:
    """Extraction: one JSON value, near-greedy sampling, no repetition penalty."""
    return _library_variant("json", quant, num_ctx, system, JSON_SYSTEM, JSON_SAMPLING)


AGENT_SAMPLING: dict[str, float | int] = {**catalog.SAMPLING, "temperature": 0.3}


def agent(quant: str, num_ctx: int, *, system: str | None = None) -> Modelfile:
    """Tool-using agent: a tool-use system prompt and steadier sampling for well-formed calls."""
    return _library_variant("agent", quant, num_ctx, system, AGENT_SYSTEM, AGENT_SAMPLING)


def long(
    quant: str,
    num_ctx: int,
    *,
    system: str | None = None,
    gguf: str | None = None,
    template: str | None = None,
) -> Modelfile:
    """Long context: FROM a YaRN GGUF (default `yarn_gguf_filename`, relative), full TEMPLATE."""
    _check_ctx(num_ctx, int(catalog.ARCH.context_length * catalog.YARN_FACTOR), "long")
    prompt = QWEN_DEFAULT_SYSTEM if system is None else system
    return Modelfile(
        from_=gguf if gguf is not None else yarn_gguf_filename(quant, num_ctx),
        template=repair_template(template) if template is not None else QWEN25_TEMPLATE,
        parameters=_base_parameters(num_ctx, catalog.SAMPLING),
        system=prompt or None,
    )


VARIANTS: dict[str, Variant] = {
    "chat": Variant("chat", "Chat", "General assistant with Qwen's recommended sampling.", chat),
    "json": Variant(
        "json", "JSON", "Extraction: answers with exactly one JSON value, low temperature.", json
    ),
    "agent": Variant("agent", "Agent", "Tool-using agent prompt, steadier sampling.", agent),
    "long": Variant(
        "long",
        "Long context",
        "Up to 128K tokens via a YaRN GGUF, with the full Qwen2.5 template.",
        long,
        from_gguf=True,
    ),
}
DEFAULT_VARIANTS: tuple[str, ...] = ("chat", "json", "agent")


def get_variant(name: str) -> Variant:
    """Look a variant up by name, with a helpful error."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise UnknownVariantError(
            f"unknown variant {name!r}", hint=f"choose one of: {', '.join(VARIANTS)}"
        ) from None


def model_name(variant: str, prefix: str = "qwenkit") -> str:
    """The Ollama model name of a variant: `qwenkit-chat`."""
    return f"{prefix}-{get_variant(variant).name}"


def modelfile_filename(model_name: str) -> str:
    """Where a variant's Modelfile is written: `qwenkit-chat.Modelfile`."""
    return f"{model_name}.Modelfile"


def render_variant(
    variant: str,
    quant: str = catalog.DEFAULT_QUANT,
    num_ctx: int | None = None,
    *,
    system: str | None = None,
    prefix: str = "qwenkit",
    **extra: str | None,
) -> str:
    """A variant's Modelfile text with a comment header saying what it is and how to use it.

    `num_ctx` defaults to 32768 (131072 for `long`). This is what `qwenkit modelfile` prints,
    what `qwenkit setup` writes and what `modelfiles/` holds for the default plan; the last
    line is the digest stamp that tells it from a user's edit.
    """
    spec = get_variant(variant)
    ctx = num_ctx if num_ctx is not None else _default_ctx(spec)
    name = model_name(variant, prefix)
    header = [
        f"{name}: {spec.description}",
        f"Generated by qwenkit for {catalog.MODEL} {catalog.quant_tag(quant).quant}, "
        f"num_ctx {ctx}.",
        f"Create it with: ollama create {name} -f {modelfile_filename(name)}",
    ]
    if spec.from_gguf:
        header.append(
            "FROM is a YaRN GGUF from `qwenkit extend-context`; keep it beside this file."
        )
    return stamp(spec.build(quant, ctx, system=system, **extra).render(header="\n".join(header)))


#: The last line of every Modelfile qwenkit writes: a digest of the lines above it.
STAMP_PREFIX = "# qwenkit-digest: "


def stamp(text: str) -> str:
    """Append the digest line that lets a later run tell its own file from a user's edit.

    Stamping a stamped text changes nothing.

    >>> stamp("FROM x\\n").splitlines()[-1][:18]
    '# qwenkit-digest: '
    >>> stamp(stamp("FROM x\\n")) == stamp("FROM x\\n")
    True
    """
    if is_pristine(text):
        return text
    body = text if text.endswith("\n") else text + "\n"
    return f"{body}{STAMP_PREFIX}{_digest(body)}\n"


def is_pristine(text: str) -> bool:
    """Whether `text` is exactly a file qwenkit stamped (no edit since it was written).

    >>> is_pristine(stamp("FROM x\\n")), is_pristine(stamp("FROM x\\n").replace("x", "y"))
    (True, False)
    """
    body, sep, last = text.rstrip("\n").rpartition("\n")
    if not sep or not last.startswith(STAMP_PREFIX):
        return False
    return last[len(STAMP_PREFIX) :].strip() == _digest(body + "\n")


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def _default_ctx(spec: Variant) -> int:
    return catalog.LONG_CTX if spec.from_gguf else catalog.DEFAULT_CTX


def yarn_gguf_filename(quant: str, num_ctx: int) -> str:
    """The long variant's GGUF: `qwen2.5-7b-instruct-q4_K_M-yarn-131072.gguf`."""
    return f"qwen2.5-7b-instruct-{catalog.quant_tag(quant).quant}-yarn-{num_ctx}.gguf"


__all__ = [
    "AGENT_SYSTEM",
    "DEFAULT_VARIANTS",
    "JSON_SYSTEM",
    "QWEN25_TEMPLATE",
    "QWEN_DEFAULT_SYSTEM",
    "VARIANTS",
    "UnknownVariantError",
    "Variant",
    "agent",
    "chat",
    "get_variant",
    "is_pristine",
    "json",
    "long",
    "model_name",
    "modelfile_filename",
    "render_variant",
    "repair_template",
    "stamp",
    "yarn_gguf_filename",
]
