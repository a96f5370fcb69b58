"""What a library `qwen2.5` model looks like from the outside: template, license, metadata.

The template is written for this fake from the behaviour described in ollama-api.md §8.1
(ChatML turns, a `# Tools` section listing tools inside `<tools>`, `<tool_call>` answers,
tool results as user turns). Architecture numbers are Qwen2.5-7B-Instruct's.
"""

from __future__ import annotations

from typing import Any

QWEN_TEMPLATE = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

The function signatures are listed inside <tools></tools>:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

To call a function, answer with a JSON object holding its name and arguments inside \
<tool_call></tool_call> tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

#: A template without `.Tools`, for models that must answer "does not support tools".
PLAIN_TEMPLATE = "{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}"

QWEN_LICENSE = """Apache License
Version 2.0, January 2004
http://www.apache.org/licenses/

(license text abridged by the fake Ollama server)"""

QWEN_PARAMETER_COUNT = 7_615_616_512

#: GGUF `general.file_type` values for the quantizations qwenkit uses.
FILE_TYPES = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q4_1": 3,
    "Q8_0": 7,
    "Q5_0": 8,
    "Q5_1": 9,
    "Q2_K": 10,
    "Q3_K_S": 11,
    "Q3_K_M": 12,
    "Q3_K_L": 13,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_S": 16,
    "Q5_K_M": 17,
    "Q6_K": 18,
}


def quantization_of(name: str) -> str:
    """`Q4_K_M` from `qwen2.5:7b-instruct-q4_K_M`; library default tags are Q4_K_M."""
    tag = name.rsplit(":", 1)[-1].upper()
    for level in sorted(FILE_TYPES, key=len, reverse=True):
        if tag.endswith(level) or (tag.endswith("FP16") and level == "F16"):
            return level
    return "Q4_K_M"


def qwen2_model_info(context_length: int, quantization: str) -> dict[str, Any]:
    """`model_info` for a library qwen2.5 7B GGUF (no rope scaling keys)."""
    return {
        "general.architecture": "qwen2",
        "general.basename": "Qwen2.5",
        "general.file_type": FILE_TYPES.get(quantization, 15),
        "general.finetune": "Instruct",
        "general.parameter_count": QWEN_PARAMETER_COUNT,
        "general.quantization_version": 2,
        "general.size_label": "7B",
        "general.type": "model",
        "qwen2.attention.head_count": 28,
        "qwen2.attention.head_count_kv": 4,
        "qwen2.attention.layer_norm_rms_epsilon": 1e-06,
        "qwen2.block_count": 28,
        "qwen2.context_length": context_length,
        "qwen2.embedding_length": 3584,
        "qwen2.feed_forward_length": 18944,
        "qwen2.rope.freq_base": 1000000,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "qwen2",
        "tokenizer.ggml.tokens": [],
        "tokenizer.ggml.token_type": [],
        "tokenizer.ggml.merges": [],
    }


def parameter_size(count: int) -> str:
    """`7.6B` from 7_615_616_512, as Ollama's `format.HumanNumber` prints it."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return str(count)
