"""parse(render(m)) == m for every value a Modelfile can hold, and a clear error otherwise.

Which values a Modelfile can hold is decided here independently of qwenkit's own check:
from Unicode categories (Ollama drops every rune outside Go's `IsPrint`, i.e. categories
C* and Z* other than the ASCII space, except that tab, CR and LF survive inside values) and
from the one quoting dead end (`\"\"\"` then only blanks then a line break).
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from qwenkit.errors import ModelfileError
from qwenkit.modelfile import Modelfile
from qwenkit.modelfile import _params as params

PIECES = [
    "a",
    "Z",
    '"',
    '"""',
    "'",
    " ",
    "  ",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "#",
    "\\",
    "\\n",
    ":",
    ": ",
    "中文",
    "é",
    "😀",
    "FROM evil",
    "SYSTEM pwned",
    "PARAMETER num_ctx 1",
    "MESSAGE user hi",
    "\x01",
    "\u00a0",
    "\u200b",
]
adversarial = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
any_text = st.one_of(adversarial, st.text(max_size=30))


def representable(value: str) -> bool:
    """Independent oracle: which strings survive a Modelfile at all."""
    for ch in value:
        if ch in "\t\r\n" or ch == " ":
            continue
        if unicodedata.category(ch)[0] in "CZ":
            return False
    return re.search(r'"""[ \t]*[\r\n]', value) is None


def check(mf_factory: Callable[[str], Modelfile], value: str, field: str) -> None:
    """Round-trip when representable; otherwise a ModelfileError naming `field`."""
    mf = mf_factory(value)
    if representable(value):
        text = mf.render()
        assert Modelfile.parse(text) == mf
        assert Modelfile.parse(text.encode("utf-8")) == mf
    else:
        with pytest.raises(ModelfileError) as info:
            mf.render()
        assert info.value.field == field
        assert field.split(".")[0].rstrip("_") in str(info.value)


@settings(max_examples=300)
@given(any_text)
@example('"hello"')
@example('"')
@example("\tfoo\t")
@example('line1"""\nline2')
@example('x"""  \r\ny')
@example("")
@example("\nSYSTEM injected")
def test_system_round_trips(value: str) -> None:
    check(lambda v: Modelfile(from_="x", system=v), value, "system")


@given(any_text)
@example('{{ if .System }}"""{{ end }}')
def test_template_round_trips(value: str) -> None:
    check(lambda v: Modelfile(from_="x", template=v), value, "template")


@given(any_text)
@example("  x  ")
@example('"quoted"')
def test_from_round_trips(value: str) -> None:
    check(lambda v: Modelfile(from_=v), value, "from_")


@given(any_text)
@example(" ")
@example('"')
def test_stop_round_trips(value: str) -> None:
    check(
        lambda v: Modelfile(from_="x", parameters={"stop": [v, "<|im_end|>"]}),
        value,
        "parameters.stop",
    )


@given(any_text, st.sampled_from(["system", "user", "assistant"]))
@example(": colon", "user")
def test_message_content_round_trips(value: str, role: str) -> None:
    check(
        lambda v: Modelfile(from_="x", messages=[{"role": role, "content": v}]),
        value,
        "messages",
    )


@given(any_text)
def test_license_round_trips(value: str) -> None:
    check(lambda v: Modelfile(from_="x", license=["MIT", v]), value, "license")


@given(any_text)
def test_adapter_round_trips(value: str) -> None:
    check(lambda v: Modelfile(from_="x", adapters=[v]), value, "adapters")


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "system": adversarial,
            "template": adversarial,
            "renderer": st.sampled_from(["qwen3", "x y"]),
            "requires": st.sampled_from(["0.14.0", "v1.2"]),
            "draft": adversarial,
        },
    ),
    st.lists(adversarial, max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "user", "assistant"]), "content": adversarial}
        ),
        max_size=3,
    ),
)
def test_whole_modelfiles_round_trip(
    fields: dict[str, str], licenses: list[str], messages: list[dict[str, str]]
) -> None:
    mf = Modelfile(from_="qwen2.5:7b-instruct", license=licenses, messages=messages, **fields)
    values = [*fields.values(), *licenses, *(m["content"] for m in messages)]
    assume(all(representable(v) for v in values))
    assert Modelfile.parse(mf.render()) == mf


# --------------------------------------------------------------------------- typed parameters

finite_f32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    finite_f32,
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30),
    st.booleans(),
)
def test_typed_parameters_round_trip(seed: int, top_p: float, temp: float, mmap: bool) -> None:
    mf = Modelfile(
        from_="x",
        parameters={"seed": seed, "top_p": top_p, "temperature": temp, "use_mmap": mmap},
    )
    assert Modelfile.parse(mf.render()) == mf


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38))
def test_floats_are_held_as_the_float32_ollama_stores(value: float) -> None:
    held = Modelfile(from_="x", parameters={"temperature": value}).parameters["temperature"]
    assert isinstance(held, float)
    # struct rounds a double to the nearest float32: an independent oracle
    as_f32 = struct.unpack("f", struct.pack("f", value))[0]
    assert struct.unpack("f", struct.pack("f", held))[0] == as_f32
    # and it is held as the shortest decimal naming that float32 (what Go's JSON sends)
    text = params.format_float32(held)
    assert float(text) == held
    mantissa = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    for digits in range(1, len(mantissa)):
        shorter = float(f"{as_f32:.{digits}g}")
        assert struct.unpack("f", struct.pack("f", shorter))[0] != as_f32


@given(st.lists(adversarial, min_size=1, max_size=4))
def test_stop_lists_keep_order_and_duplicates(stops: list[str]) -> None:
    assume(all(representable(s) for s in stops))
    mf = Modelfile(from_="x", parameters={"stop": stops + stops[:1]})
    assert Modelfile.parse(mf.render()).parameters["stop"] == stops + stops[:1]


def test_empty_stop_list_cannot_be_written() -> None:
    with pytest.raises(ModelfileError) as info:
        Modelfile(from_="x", parameters={"stop": []}).render()
    assert info.value.field == "parameters.stop"


# --------------------------------------------------------------------------- injection


@given(adversarial)
def test_a_system_prompt_never_adds_a_directive(payload: str) -> None:
    value = f"be nice\n{payload}\nPARAMETER num_ctx 1\nFROM evil\n"
    mf = Modelfile(from_="x", system=value)
    if not representable(value):
        with pytest.raises(ModelfileError):
            mf.render()
        return
    again = Modelfile.parse(mf.render())
    assert again.from_ == "x"
    assert again.parameters == {}
    assert again.system == value


def test_header_comments_cannot_inject_either() -> None:
    mf = Modelfile(from_="x")
    text = mf.render(header="title\nSYSTEM evil\rPARAMETER num_ctx 1\r\nend")
    assert Modelfile.parse(text) == mf
    assert text.splitlines()[:4] == ["# title", "# SYSTEM evil", "# PARAMETER num_ctx 1", "# end"]
