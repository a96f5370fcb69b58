"""The Modelfile value: construction checks, render layout, local files, `/api/create` body."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qwenkit.errors import ModelfileError, QwenkitError
from qwenkit.modelfile import DeprecatedParameterWarning, Modelfile
from qwenkit.options import PARAMETER_KINDS, Options

DIGEST = "sha256:" + "ab" * 32


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- construction


def test_keyword_construction_and_value_equality() -> None:
    a = Modelfile(from_="qwen2.5:7b-instruct", parameters={"num_ctx": 8192, "stop": ["x"]})
    b = Modelfile(from_="qwen2.5:7b-instruct", parameters={"stop": ["x"], "num_ctx": 8192})
    assert a == b
    assert a != Modelfile(from_="qwen2.5:7b-instruct", parameters={"num_ctx": 4096})
    assert isinstance(a, Modelfile)
    assert issubclass(ModelfileError, QwenkitError)


def test_positional_construction_is_refused() -> None:
    with pytest.raises(TypeError):
        Modelfile("x")  # type: ignore[misc]


def test_containers_are_copied_not_aliased() -> None:
    stops = ["a"]
    licenses = ["MIT"]
    mf = Modelfile(from_="x", parameters={"stop": stops}, license=licenses)
    stops.append("b")
    licenses.append("GPL")
    assert mf.parameters["stop"] == ["a"]
    assert mf.license == ["MIT"]


def test_tuples_are_accepted_as_lists() -> None:
    mf = Modelfile(from_="x", parameters={"stop": ("a", "b")}, license=("MIT",))  # type: ignore[arg-type]
    assert mf.parameters["stop"] == ["a", "b"]
    assert mf.license == ["MIT"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"num_ctx": "8192"}, "must be an int"),
        ({"num_ctx": 8192.0}, "must be an int"),
        ({"num_ctx": True}, "must be an int"),
        ({"temperature": "0.7"}, "must be a number"),
        ({"temperature": True}, "must be a number"),
        ({"use_mmap": 1}, "must be a bool"),
        ({"stop": "<|im_end|>"}, "must be a list of str"),
        ({"stop": [1]}, "must be a list of str"),
        ({"num_ctx": 2**63}, "invalid int value"),
        ({"temperature": float("inf")}, "invalid float value"),
        ({"temperature": float("nan")}, "invalid float value"),
        ({"temperature": 1e39}, "invalid float value"),
    ],
)
def test_constructed_parameters_are_type_checked(params: dict[str, object], fragment: str) -> None:
    with pytest.raises(ModelfileError, match=fragment) as info:
        Modelfile(from_="x", parameters=params)  # type: ignore[arg-type]
    assert info.value.field == f"parameters.{next(iter(params))}"


def test_unknown_constructed_parameter_uses_ollamas_wording() -> None:
    with pytest.raises(ModelfileError, match=r"^unknown parameter 'num_ctxx'$"):
        Modelfile(from_="x", parameters={"num_ctxx": 1})


def test_deprecated_constructed_parameter_warns_and_is_dropped() -> None:
    with pytest.warns(DeprecatedParameterWarning, match="mirostat"):
        mf = Modelfile(from_="x", parameters={"mirostat": 1, "num_ctx": 2})
    assert mf.parameters == {"num_ctx": 2}


def test_float_parameters_accept_ints_and_hold_float32_values() -> None:
    mf = Modelfile(from_="x", parameters={"temperature": 1, "top_p": 0.1234567891234})
    assert mf.parameters == {"temperature": 1.0, "top_p": 0.12345679}
    assert isinstance(mf.parameters["temperature"], float)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"from_": 3}, "from_"),
        ({"system": b"bytes"}, "system"),
        ({"license": "MIT"}, "license"),
        ({"adapters": [None]}, "adapters"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "x", "images": []}]}, "messages"),
        ({"requires": "soon"}, "requires"),
    ],
)
def test_constructed_fields_are_checked(kwargs: dict[str, object], field: str) -> None:
    kwargs.setdefault("from_", "x")
    with pytest.raises(ModelfileError) as info:
        Modelfile(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# --------------------------------------------------------------------------- render


def test_render_layout_is_deterministic_and_documented() -> None:
    mf = Modelfile(
        from_="qwen2.5:7b-instruct",
        draft="./d.gguf",
        requires="0.14.0",
        parser="qwen3",
        renderer="qwen3",
        license=["MIT"],
        messages=[{"role": "user", "content": "hi"}],
        system="sys",
        template="{{ .Prompt }}",
        parameters={"stop": ["a", "b"], "temperature": 0.7, "num_ctx": 8192, "use_mmap": False},
        adapters=["./lora.gguf"],
    )
    assert mf.render().splitlines() == [
        "FROM qwen2.5:7b-instruct",
        "ADAPTER ./lora.gguf",
        "PARAMETER num_ctx 8192",
        "PARAMETER use_mmap false",
        "PARAMETER temperature 0.7",
        "PARAMETER stop a",
        "PARAMETER stop b",
        "TEMPLATE {{ .Prompt }}",
        "SYSTEM sys",
        "MESSAGE user hi",
        "LICENSE MIT",
        "RENDERER qwen3",
        "PARSER qwen3",
        "REQUIRES 0.14.0",
        "DRAFT ./d.gguf",
    ]


def test_parameters_render_in_table_order() -> None:
    values = {"int": 1, "float": 0.5, "bool": True, "list": ["s"]}
    params = {name: values[kind] for name, kind in reversed(PARAMETER_KINDS.items())}
    names = [
        line.split()[1]
        for line in Modelfile(from_="x", parameters=params).render().split("\n")[1:-1]
    ]
    assert names == list(PARAMETER_KINDS)


def test_options_model_has_the_same_names_and_kinds_as_the_table() -> None:
    """`Options` is written out for typing; the Modelfile engine types by the table."""
    python_type = {"int": int, "float": float, "bool": bool, "list": list[str]}
    fields = {name: info.annotation for name, info in Options.model_fields.items()}
    assert fields == {name: python_type[kind] | None for name, kind in PARAMETER_KINDS.items()}
    assert list(fields) == list(PARAMETER_KINDS)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain text", "SYSTEM plain text"),
        (" lead", 'SYSTEM """ lead"""'),
        ("trail\t", 'SYSTEM """trail\t"""'),
        ('"quoted"', 'SYSTEM """"quoted""""'),
        ("", 'SYSTEM """"""'),
        ("a\nb", 'SYSTEM """a\nb"""'),
        ("# not a comment", "SYSTEM # not a comment"),
        ('say "hi" now', 'SYSTEM say "hi" now'),
    ],
)
def test_values_are_quoted_only_when_needed(value: str, written: str) -> None:
    text = Modelfile(from_="x", system=value).render()
    assert text == f"FROM x\n{written}\n"
    assert Modelfile.parse(text).system == value


def test_floats_render_as_shortest_float32_decimal() -> None:
    text = Modelfile(from_="x", parameters={"temperature": 0.7, "top_p": 1e-7}).render()
    assert "PARAMETER temperature 0.7\n" in text
    assert "PARAMETER top_p 1e-07\n" in text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"system": 'end"""\nmore'}, "system"),
        ({"template": 'x"""  \r'}, "template"),
        ({"from_": "bad\x00name"}, "from_"),
        ({"license": ["ok", "zero\u200bwidth"]}, "license"),
        ({"messages": [{"role": "user", "content": "nb\u00a0sp"}]}, "messages"),
        ({"parameters": {"stop": ['"""\n']}}, "parameters.stop"),
        ({"adapters": ["a\x7f"]}, "adapters"),
    ],
)
def test_unwritable_values_raise_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    kwargs.setdefault("from_", "x")
    mf = Modelfile(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ModelfileError) as info:
        mf.render()
    assert info.value.field == field
    assert "cannot be written in a Modelfile" in str(info.value)
    assert "to_create_request" in (info.value.hint or "")


def test_mutation_after_construction_is_checked_at_render() -> None:
    mf = Modelfile(from_="x")
    mf.parameters["num_ctx"] = "big"  # type: ignore[assignment]
    with pytest.raises(ModelfileError, match="must be an int"):
        mf.render()


def test_header_becomes_comments() -> None:
    text = Modelfile(from_="x").render(header="line one\nline two")
    assert text == "# line one\n# line two\nFROM x\n"


# --------------------------------------------------------------------------- local files


def test_model_names_are_not_local_files(tmp_path: Path) -> None:
    assert Modelfile(from_="qwen2.5:7b-instruct").local_files(tmp_path) == {}


def test_from_a_relative_gguf_resolves_against_base_dir(tmp_path: Path) -> None:
    gguf = tmp_path / "models" / "q.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    mf = Modelfile(from_="models/q.gguf")
    assert mf.local_files(tmp_path) == {"q.gguf": gguf}
    assert mf.local_files(gguf.parent.parent / "models" / "..") == {"q.gguf": gguf}


def test_from_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "q.gguf").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path)
    assert Modelfile(from_="q.gguf").local_files() == {"q.gguf": tmp_path / "q.gguf"}


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert Modelfile(from_="~/m.gguf").local_files(Path("/nonexistent")) == {
        "m.gguf": tmp_path / "m.gguf"
    }


def test_absolute_paths_ignore_base_dir(tmp_path: Path) -> None:
    gguf = tmp_path / "abs.gguf"
    gguf.write_bytes(b"GGUF")
    assert Modelfile(from_=str(gguf)).local_files(Path("/elsewhere")) == {"abs.gguf": gguf}


def test_adapters_and_draft_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError, match="no such file") as info:
        Modelfile(from_="x", adapters=["missing.gguf"]).local_files(tmp_path)
    assert info.value.field == "adapters"
    with pytest.raises(ModelfileError, match="no such file") as info:
        Modelfile(from_="x", draft="missing.gguf").local_files(tmp_path)
    assert info.value.field == "draft"


def test_from_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    with pytest.raises(ModelfileError, match="directory") as info:
        Modelfile(from_="weights").local_files(tmp_path)
    assert info.value.field == "from_"


def test_two_files_with_one_base_name_are_refused(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "m.gguf").write_bytes(sub.encode())
    with pytest.raises(ModelfileError, match="share the name"):
        Modelfile(from_="a/m.gguf", adapters=["b/m.gguf"]).local_files(tmp_path)


# --------------------------------------------------------------------------- /api/create


def test_create_request_from_a_library_model() -> None:
    mf = Modelfile.parse(
        "FROM qwen2.5:7b-instruct\n"
        "SYSTEM You are a careful assistant.\n"
        "PARAMETER num_ctx 8192\nPARAMETER temperature 0.7\n"
        "PARAMETER stop <|im_end|>\nPARAMETER stop <|im_start|>\n"
        "MESSAGE user Hi\nMESSAGE assistant Hello!\nLICENSE Apache-2.0\n"
    )
    # the example body of ollama-api.md §2.1
    assert mf.to_create_request("qwenkit-assistant") == {
        "model": "qwenkit-assistant",
        "from": "qwen2.5:7b-instruct",
        "system": "You are a careful assistant.",
        "parameters": {
            "num_ctx": 8192,
            "temperature": 0.7,
            "stop": ["<|im_end|>", "<|im_start|>"],
        },
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        "license": ["Apache-2.0"],
    }


def test_create_request_is_plain_json_and_never_has_modelfile() -> None:
    mf = Modelfile(from_="x", template="t", parameters={"use_mmap": True, "top_p": 0.9})
    body = mf.to_create_request("m")
    assert json.loads(json.dumps(body)) == body
    assert "modelfile" not in body
    assert "stream" not in body
    assert body["parameters"] == {"use_mmap": True, "top_p": 0.9}


def test_empty_system_and_template_are_left_out() -> None:
    body = Modelfile(from_="x", system="", template="").to_create_request("m")
    assert body == {"model": "m", "from": "x"}


def test_renderer_parser_requires_are_mapped() -> None:
    mf = Modelfile(from_="x", renderer="qwen3", parser="qwen3", requires="v0.14.0")
    body = mf.to_create_request("m")
    assert (body["renderer"], body["parser"], body["requires"]) == ("qwen3", "qwen3", "0.14.0")


def test_values_a_modelfile_cannot_hold_still_go_through_json() -> None:
    mf = Modelfile(from_="x", system='ends with """\nand more', parameters={"stop": []})
    body = mf.to_create_request("m")
    assert body["system"] == 'ends with """\nand more'
    assert body["parameters"] == {"stop": []}


def test_local_from_becomes_files_with_the_uploaded_digest(tmp_path: Path) -> None:
    gguf = tmp_path / "q.gguf"
    gguf.write_bytes(b"GGUF fake")
    mf = Modelfile(from_="q.gguf", template="{{ .Prompt }}")
    names = mf.local_files(tmp_path)
    blobs = {name: sha256_of(path) for name, path in names.items()}
    body = mf.to_create_request("qwenkit-long", blobs=blobs, base_dir=tmp_path)
    assert body == {
        "model": "qwenkit-long",
        "files": {"q.gguf": sha256_of(gguf)},
        "template": "{{ .Prompt }}",
    }


def test_local_from_without_an_uploaded_digest_says_upload_first(tmp_path: Path) -> None:
    (tmp_path / "q.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelfileError, match="no blob digest") as info:
        Modelfile(from_="q.gguf").to_create_request("m", base_dir=tmp_path)
    assert "upload it first" in (info.value.hint or "")


def test_bad_digest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "q.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelfileError, match="sha256"):
        Modelfile(from_="q.gguf").to_create_request(
            "m", blobs={"q.gguf": "md5:abc"}, base_dir=tmp_path
        )


def test_adapter_and_draft_map_to_their_own_fields(tmp_path: Path) -> None:
    for name in ("lora.gguf", "draft.gguf"):
        (tmp_path / name).write_bytes(name.encode())
    mf = Modelfile(from_="qwen2.5:7b-instruct", adapters=["lora.gguf"], draft="draft.gguf")
    blobs = {"lora.gguf": DIGEST, "draft.gguf": "sha256:" + "cd" * 32}
    body = mf.to_create_request("m", blobs=blobs, base_dir=tmp_path)
    assert body["from"] == "qwen2.5:7b-instruct"
    assert body["adapters"] == {"lora.gguf": DIGEST}
    assert body["draft_files"] == {"draft.gguf": "sha256:" + "cd" * 32}


def test_more_than_one_adapter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError, match="only one adapter") as info:
        Modelfile(from_="x", adapters=["a", "b"]).to_create_request("m", base_dir=tmp_path)
    assert info.value.field == "adapters"


def test_empty_model_or_from_is_refused() -> None:
    with pytest.raises(ModelfileError, match="model name"):
        Modelfile(from_="x").to_create_request("")
    with pytest.raises(ModelfileError, match="FROM is empty"):
        Modelfile(from_="").to_create_request("m")


def test_parsed_file_bytes_and_create_request_agree(tmp_path: Path) -> None:
    (tmp_path / "q.gguf").write_bytes(b"GGUF")
    text = 'FROM ./q.gguf\nTEMPLATE """{{ .Prompt }}\n"""\nPARAMETER num_ctx 131072\n'
    mf = Modelfile.parse(text.encode("utf-16-le").join([b"\xff\xfe", b""]))
    body = mf.to_create_request("m", blobs={"q.gguf": DIGEST}, base_dir=tmp_path)
    assert body == {
        "model": "m",
        "files": {"q.gguf": DIGEST},
        "template": "{{ .Prompt }}\n",
        "parameters": {"num_ctx": 131072},
    }
