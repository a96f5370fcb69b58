"""The Qwen variants, the bundled Modelfiles, and the qwen2.5 Go template."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from qwenkit import catalog, variants
from qwenkit.errors import InvalidRequestError, PlanError
from qwenkit.longctx import chat_template
from qwenkit.modelfile import Modelfile
from qwenkit.variants import (
    DEFAULT_VARIANTS,
    QWEN25_TEMPLATE,
    VARIANTS,
    UnknownVariantError,
    model_name,
    modelfile_filename,
    render_variant,
    yarn_gguf_filename,
)

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "modelfiles"
REGENERATE = (
    "regenerate with: for v in chat json agent long; do "
    "qwenkit modelfile $v -o modelfiles/qwenkit-$v.Modelfile --force; done"
)


def test_variant_table() -> None:
    assert list(VARIANTS) == ["chat", "json", "agent", "long"]
    assert DEFAULT_VARIANTS == ("chat", "json", "agent")
    for name, spec in VARIANTS.items():
        assert spec.name == name
        assert spec.title and spec.description
    assert [v.from_gguf for v in VARIANTS.values()] == [False, False, False, True]


@pytest.mark.parametrize("name", ["chat", "json", "agent"])
@pytest.mark.parametrize(("quant", "ctx"), [("q4_K_M", 32768), ("q8_0", 4096), ("Q2_K", 256)])
def test_library_variants(name: str, quant: str, ctx: int) -> None:
    mf = VARIANTS[name].build(quant, ctx)
    assert mf.from_ == f"qwen2.5:7b-instruct-{catalog.quant_tag(quant).quant}"
    assert mf.parameters["num_ctx"] == ctx
    assert mf.parameters["stop"] == ["<|im_start|>", "<|im_end|>"]
    assert mf.template == QWEN25_TEMPLATE  # not the library's: its tools print as Go structs
    assert mf.system
    assert Modelfile.parse(mf.render()) == mf


def test_chat_uses_qwens_recommended_sampling() -> None:
    params = variants.chat("q4_K_M", 8192).parameters
    assert {k: params[k] for k in catalog.SAMPLING} == catalog.SAMPLING
    assert variants.chat("q4_K_M", 8192).system == variants.QWEN_DEFAULT_SYSTEM


def test_json_variant_is_near_greedy_and_demands_one_json_value() -> None:
    mf = variants.json("q4_K_M", 8192)
    temperature = mf.parameters["temperature"]
    assert isinstance(temperature, float) and temperature <= 0.2
    assert mf.parameters["repeat_penalty"] == 1.0
    assert mf.system is not None and "exactly one JSON value" in mf.system


def test_agent_variant_prompts_for_tools() -> None:
    mf = variants.agent("q4_K_M", 8192)
    assert mf.system is not None and "tool" in mf.system
    chat_temp = variants.chat("q4_K_M", 8192).parameters["temperature"]
    assert mf.parameters["temperature"] < chat_temp  # type: ignore[operator]


def test_system_override_and_removal() -> None:
    assert variants.chat("q4_K_M", 8192, system="Be terse.").system == "Be terse."
    assert VARIANTS["json"].build("q4_K_M", 8192, system="").system is None
    assert "SYSTEM" not in VARIANTS["agent"].build("q4_K_M", 8192, system="").render()


@pytest.mark.parametrize("name", ["chat", "json", "agent"])
@pytest.mark.parametrize("ctx", [32769, 131072, 255, 0, -1])
def test_library_variants_refuse_contexts_ollama_would_clamp(name: str, ctx: int) -> None:
    with pytest.raises(PlanError) as info:
        VARIANTS[name].build("q4_K_M", ctx)
    if ctx > 32768:
        assert "long variant" in (info.value.hint or "")


def test_unknown_quant_is_a_usage_error() -> None:
    with pytest.raises(InvalidRequestError, match="unknown quantization"):
        variants.chat("q9_X", 8192)


def test_long_variant_defaults() -> None:
    mf = variants.long("q4_K_M", 131072)
    assert mf.from_ == "qwen2.5-7b-instruct-q4_K_M-yarn-131072.gguf"
    assert mf.template == QWEN25_TEMPLATE
    assert mf.parameters["num_ctx"] == 131072
    assert mf.parameters["stop"] == ["<|im_start|>", "<|im_end|>"]
    assert Modelfile.parse(mf.render()) == mf


def test_long_variant_takes_the_servers_template_and_a_gguf_path() -> None:
    mf = VARIANTS["long"].build("q8_0", 65536, gguf="/data/y.gguf", template="{{ .Prompt }}")
    assert (mf.from_, mf.template) == ("/data/y.gguf", "{{ .Prompt }}")
    with pytest.raises(PlanError):
        variants.long("q4_K_M", 131073)


#: the tools line of the library qwen2.5 template: Go struct text on Ollama 0.14+
LIBRARY_TOOLS_LINE = '{"type": "function", "function": {{ .Function }}}'


def test_a_server_template_with_bare_function_is_repaired_everywhere_it_is_used() -> None:
    library = QWEN25_TEMPLATE.replace("{{ json .Function }}", "{{ .Function }}")
    assert LIBRARY_TOOLS_LINE in library and LIBRARY_TOOLS_LINE not in QWEN25_TEMPLATE
    assert variants.repair_template(library) == QWEN25_TEMPLATE
    assert variants.repair_template("{{- .Function -}}") == "{{- json .Function -}}"
    assert variants.repair_template(QWEN25_TEMPLATE) == QWEN25_TEMPLATE
    long = VARIANTS["long"].build("q4_K_M", 65536, gguf="y.gguf", template=library)
    assert long.template == QWEN25_TEMPLATE
    assert chat_template(SimpleNamespace(template=library)) == QWEN25_TEMPLATE
    assert chat_template(SimpleNamespace(template=None)) == QWEN25_TEMPLATE


def test_long_variant_create_request_uploads_the_gguf(tmp_path: Path) -> None:
    gguf = tmp_path / yarn_gguf_filename("q4_K_M", 131072)
    gguf.write_bytes(b"GGUF")
    mf = variants.long("q4_K_M", 131072)
    assert mf.local_files(tmp_path) == {gguf.name: gguf}
    digest = "sha256:" + "0" * 64
    body = mf.to_create_request("qwenkit-long", blobs={gguf.name: digest}, base_dir=tmp_path)
    assert body["files"] == {gguf.name: digest}
    assert "from" not in body
    assert body["template"] == QWEN25_TEMPLATE


def test_names() -> None:
    assert model_name("chat") == "qwenkit-chat"
    assert model_name("long", prefix="me") == "me-long"
    assert modelfile_filename("qwenkit-json") == "qwenkit-json.Modelfile"
    assert yarn_gguf_filename("Q4_k_m", 131072) == "qwen2.5-7b-instruct-q4_K_M-yarn-131072.gguf"
    with pytest.raises(UnknownVariantError, match="unknown variant"):
        model_name("vision")


def test_render_variant_has_a_usable_header() -> None:
    text = render_variant("chat", "q8_0", 4096)
    head = text.splitlines()[:3]
    assert all(line.startswith("# ") for line in head)
    assert "ollama create qwenkit-chat -f qwenkit-chat.Modelfile" in head[2]
    assert Modelfile.parse(text) == variants.chat("q8_0", 4096)
    assert "num_ctx 131072" in render_variant("long").splitlines()[1]


# --------------------------------------------------------------------------- bundled files


@pytest.mark.parametrize("name", list(VARIANTS))
def test_bundled_modelfiles_match_the_code(name: str) -> None:
    path = BUNDLED / modelfile_filename(model_name(name))
    assert path.exists(), f"{path} is missing; {REGENERATE}"
    assert path.read_text(encoding="utf-8") == render_variant(name), f"out of date; {REGENERATE}"


def test_the_bundled_folder_holds_only_the_variants_files() -> None:
    """What git tracks there ships in every clone, and setup reads the folder as its own."""
    tracked = subprocess.run(
        ["git", "ls-files", "modelfiles"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    expected = {f"modelfiles/{modelfile_filename(model_name(name))}" for name in VARIANTS}
    assert set(tracked) == expected


@pytest.mark.parametrize("name", list(VARIANTS))
def test_bundled_modelfiles_parse_to_the_default_plan(name: str) -> None:
    ctx = catalog.LONG_CTX if name == "long" else catalog.DEFAULT_CTX
    parsed = Modelfile.parse((BUNDLED / f"qwenkit-{name}.Modelfile").read_bytes())
    assert parsed == VARIANTS[name].build(catalog.DEFAULT_QUANT, ctx)


# --------------------------------------------------------------------------- the template

ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)


def test_template_blocks_are_balanced() -> None:
    depth = 0
    for action in ACTION.findall(QWEN25_TEMPLATE):
        word = action.split()[0] if action.split() else ""
        if word in ("if", "range", "with"):
            depth += 1
        elif word == "end":
            depth -= 1
        assert depth >= 0, "an {{ end }} closes nothing"
    assert depth == 0


def test_template_uses_only_simple_constructs() -> None:
    allowed = {"if", "else", "range", "end", "not", "and", "or", "eq", "ne", "len", "slice"}
    allowed.add("json")  # Ollama's own template function, there since 0.2.6
    for action in ACTION.findall(QWEN25_TEMPLATE):
        bare = re.sub(r'"[^"]*"', "", action)  # drop string literals such as "user"
        for word in re.findall(r"(?<![.$\w])([a-z]\w*)", bare):
            assert word in allowed, f"unexpected function {word!r} in {{{{ {action} }}}}"


def test_tool_call_tag_follows_the_toolcalls_field() -> None:
    # Ollama finds the tool-call tag as the first text inside `if .ToolCalls` (a field, not
    # `$var.ToolCalls`); for qwen2.5 it must be <tool_call>.
    after = QWEN25_TEMPLATE.split("if .ToolCalls }}", 1)[1]
    assert after.lstrip().startswith("<tool_call>")
    assert "$m.ToolCalls" not in QWEN25_TEMPLATE
    for needle in (".Messages", ".Tools", "<tools>", "</tools>", "<tool_response>", ".Function"):
        assert needle in QWEN25_TEMPLATE


def test_template_is_writable_in_a_modelfile() -> None:
    mf = Modelfile(from_="x.gguf", template=QWEN25_TEMPLATE)
    assert Modelfile.parse(mf.render()).template == QWEN25_TEMPLATE


GO_HARNESS = r"""
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

// As Ollama 0.32's templateToolFunction: no String method, so only `json` prints it as JSON.
type Fn struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

type Tool struct{ Function Fn }
type Args map[string]any

func (a Args) String() string { b, _ := json.Marshal(map[string]any(a)); return string(b) }

type CallFn struct {
	Name      string
	Arguments Args
}
type Call struct{ Function CallFn }
type Msg struct {
	Role, Content string
	ToolCalls     []Call
}

func main() {
	src, _ := os.ReadFile(os.Args[1])
	asJSON := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	funcs := template.FuncMap{"json": asJSON}
	t := template.Must(template.New("").Funcs(funcs).Parse(string(src)))
	tools := []Tool{{Function: Fn{Name: "get_weather", Description: "Weather",
		Parameters: map[string]any{"type": "object"}}}}
	runs := []map[string]any{
		{"System": "Be brief.", "Tools": tools, "Response": "", "Messages": []Msg{
			{Role: "user", Content: "Paris?"},
			{Role: "assistant", ToolCalls: []Call{{Function: CallFn{Name: "get_weather",
				Arguments: Args{"city": "Paris"}}}}},
			{Role: "tool", Content: "20C"},
		}},
		{"Response": "", "Messages": []Msg{{Role: "user", Content: "Hi"},
			{Role: "assistant", Content: "Hel"}}},
		{"System": "S", "Prompt": "P", "Response": ""},
	}
	for _, v := range runs {
		if err := t.Execute(os.Stdout, v); err != nil {
			panic(err)
		}
		fmt.Print("\x00")
	}
}
"""

EXPECTED_TOOL_TURN = (
    "<|im_start|>system\nBe brief.\n\n# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": '
    '{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}}\n'
    "</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
    "<|im_start|>user\nParis?<|im_end|>\n"
    '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n'
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n<tool_response>\n20C\n</tool_response><|im_end|>\n"
    "<|im_start|>assistant\n"
)


@pytest.mark.skipif(shutil.which("go") is None, reason="needs a Go toolchain")
def test_template_executes_in_go_text_template(tmp_path: Path) -> None:
    (tmp_path / "main.go").write_text(GO_HARNESS)
    (tmp_path / "go.mod").write_text("module harness\n\ngo 1.18\n")
    (tmp_path / "qwen.tmpl").write_text(QWEN25_TEMPLATE)
    run = subprocess.run(
        ["go", "run", ".", "qwen.tmpl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    tools, prefill, legacy = run.stdout.split("\x00")[:3]
    assert tools == EXPECTED_TOOL_TURN
    assert prefill == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHel"
    assert legacy == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\n"
    )
