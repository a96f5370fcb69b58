"""Ollama's Modelfile grammar, rule by rule (shared/reference/ollama-api.md §1).

Expected values are the verified examples in the reference (Ollama's own parser at v0.33),
not outputs of qwenkit.
"""

from __future__ import annotations

import math

import pytest

from qwenkit.errors import ModelfileError
from qwenkit.modelfile import DeprecatedParameterWarning, Modelfile

COMMAND_ERROR = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
ROLE_ERROR = 'message role must be one of "system", "user", or "assistant"'


def parse(text: str | bytes) -> Modelfile:
    return Modelfile.parse(text)


def system_of(body: str) -> str | None:
    return parse("FROM x\n" + body).system


def error_of(text: str | bytes) -> ModelfileError:
    with pytest.raises(ModelfileError) as info:
        Modelfile.parse(text)
    return info.value


# --------------------------------------------------------------------------- 1.1 input


def test_utf8_bom_is_skipped() -> None:
    assert parse(b"\xef\xbb\xbfFROM x\n").from_ == "x"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_accepted(codec: str) -> None:
    bom = b"\xff\xfe" if codec == "utf-16-le" else b"\xfe\xff"
    data = bom + "FROM x\nSYSTEM 你好 😀\n".encode(codec)
    mf = parse(data)
    assert (mf.from_, mf.system) == ("x", "你好 😀")


def test_str_with_leading_bom_is_the_same_as_bytes() -> None:
    assert parse("\ufeffFROM x\n") == parse(b"\xef\xbb\xbfFROM x\n")


def test_multibyte_text_is_kept() -> None:
    assert system_of("SYSTEM 日本語のテキスト and é\n") == "日本語のテキスト and é"


def test_invalid_utf8_bytes_become_replacement_characters() -> None:
    assert parse(b"FROM x\nSYSTEM a\xffb\xe2\x82c\n").system == "a\ufffdb\ufffd\ufffdc"


def test_non_printable_characters_are_dropped() -> None:
    # verified: a\u00a0b\u200bc\x01d -> abcd
    assert system_of("SYSTEM a\u00a0b\u200bc\x01d\n") == "abcd"


def test_non_printable_inside_a_keyword_is_dropped_at_its_start_only() -> None:
    assert parse("\u200bFROM x\n").from_ == "x"
    assert error_of("FR\u200bOM x\n").line == 1


# --------------------------------------------------------------------------- 1.2 state machine


def test_leading_indentation_before_an_instruction_is_allowed() -> None:
    assert parse("   \t FROM x\n\t SYSTEM hi\n").system == "hi"


def test_comments_only_where_a_command_could_start() -> None:
    mf = parse("# a comment\n  # indented comment\nFROM x # not a comment\n")
    assert mf.from_ == "x # not a comment"


def test_hash_after_a_value_is_part_of_the_value() -> None:
    # verified: PARAMETER temperature 0.7 # c -> value "0.7 # c", which fails float parsing
    err = error_of("FROM x\nPARAMETER temperature 0.7 # c\n")
    assert str(err) == "invalid float value [0.7 # c]"


def test_comment_may_end_with_a_carriage_return() -> None:
    assert parse("# c\rFROM x\r").from_ == "x"


def test_from_may_appear_anywhere() -> None:
    assert parse("SYSTEM s\nFROM x\n") == Modelfile(from_="x", system="s")


def test_file_without_from_fails() -> None:
    err = error_of("SYSTEM hi\n")
    assert str(err) == "no FROM line"
    assert err.line is None


def test_empty_file_fails_with_no_from() -> None:
    assert str(error_of("")) == "no FROM line"
    assert str(error_of("# only a comment\n\n")) == "no FROM line"


# --------------------------------------------------------------------------- 1.3 instructions


def test_every_instruction_maps_to_its_field() -> None:
    text = (
        "FROM ./model.gguf\n"
        "ADAPTER ./lora.gguf\n"
        "TEMPLATE {{ .Prompt }}\n"
        "SYSTEM be kind\n"
        "LICENSE MIT\n"
        "LICENSE Apache-2.0\n"
        "MESSAGE user hello\n"
        "MESSAGE assistant hi there\n"
        "RENDERER qwen3\n"
        "PARSER qwen3\n"
        "REQUIRES 0.14.0\n"
        "DRAFT ./draft.gguf\n"
        "PARAMETER num_ctx 4096\n"
    )
    assert parse(text) == Modelfile(
        from_="./model.gguf",
        adapters=["./lora.gguf"],
        template="{{ .Prompt }}",
        system="be kind",
        license=["MIT", "Apache-2.0"],
        messages=[
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi there"},
        ],
        renderer="qwen3",
        parser="qwen3",
        requires="0.14.0",
        draft="./draft.gguf",
        parameters={"num_ctx": 4096},
    )


def test_there_is_no_tools_instruction() -> None:
    err = error_of("FROM x\nTOOLS x\n")
    assert str(err) == f"(line 2): {COMMAND_ERROR}"


# --------------------------------------------------------------------------- 1.4 values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM     FOOO BAR    \n", "FOOO BAR"),
        ("FROM /what/is/the path \n", "/what/is/the path"),
        ('FROM "  x  "\n', "  x  "),
    ],
)
def test_unquoted_values_are_trimmed_inner_space_kept(text: str, expected: str) -> None:
    assert parse(text).from_ == expected


def test_double_quoted_value_keeps_spaces_and_spans_lines() -> None:
    assert system_of('SYSTEM "  two\n lines  "\n') == "  two\n lines  "


def test_embedded_quote_ends_a_value_at_a_line_ending_in_quote() -> None:
    # verified: SYSTEM "He said "hi" + newline + more" -> `He said "hi`, then `more"` fails
    err = error_of('FROM x\nSYSTEM "He said "hi"\nmore"\n')
    assert str(err) == f"(line 3): {COMMAND_ERROR}"
    assert system_of('SYSTEM "He said "hi"\n') == 'He said "hi'


def test_mid_line_triple_quote_is_harmless() -> None:
    # verified: SYSTEM """foo """ bar""" -> foo """ bar
    assert system_of('SYSTEM """foo """ bar"""\n') == 'foo """ bar'


def test_triple_quote_at_a_line_end_terminates_early() -> None:
    text = 'FROM x\nSYSTEM """line1"""  \nline2"""\n'
    err = error_of(text)
    assert str(err) == f"(line 3): {COMMAND_ERROR}"


def test_quoted_value_with_trailing_text_runs_to_eof() -> None:
    # verified: SYSTEM "abc" # c -> unexpected EOF
    err = error_of('FROM x\nSYSTEM "abc" # c\n')
    assert str(err) == "unexpected EOF"
    assert err.line is None


def test_trailing_blanks_after_closing_quote_are_fine() -> None:
    assert system_of('SYSTEM "abc"  \t\n') == "abc"


@pytest.mark.parametrize("body", ['SYSTEM ""\n', 'SYSTEM """"""\n', "SYSTEM \n", "SYSTEM  \t \n"])
def test_empty_values(body: str) -> None:
    assert system_of(body) == ""


def test_keyword_directly_followed_by_newline_is_a_command_error() -> None:
    # verified: FROM\n -> (line 2): … (the newline already counted)
    err = error_of("FROM\n")
    assert str(err) == f"(line 2): {COMMAND_ERROR}"
    assert err.line == 2


def test_keyword_at_eof_is_unexpected_eof() -> None:
    assert str(error_of("FROM x\nSYSTEM")) == "unexpected EOF"


def test_there_are_no_escape_sequences() -> None:
    # verified: SYSTEM "a \"b\" c\n" -> the literal text a \"b\" c\n
    assert system_of('SYSTEM "a \\"b\\" c\\n"\n') == 'a \\"b\\" c\\n'


def test_single_quotes_are_not_quotes() -> None:
    assert system_of("SYSTEM 'hi'\n") == "'hi'"


def test_tabs_and_crlf_inside_quoted_values_are_kept() -> None:
    assert system_of('SYSTEM """\ta\r\nb\t"""\n') == "\ta\r\nb\t"


def test_unquoted_value_ends_at_a_lone_carriage_return() -> None:
    mf = parse("FROM x\rSYSTEM a b\rLICENSE l\r")
    assert (mf.from_, mf.system, mf.license) == ("x", "a b", ["l"])


def test_unterminated_quotes_are_unexpected_eof() -> None:
    assert str(error_of('FROM x\nSYSTEM "abc\n')) == "unexpected EOF"
    assert str(error_of('FROM x\nSYSTEM """abc\n\n')) == "unexpected EOF"
    assert str(error_of('FROM x\nSYSTEM """""\n')) == "unexpected EOF"


def test_only_one_separator_after_parameter() -> None:
    # verified: PARAMETER  temperature 0.7 -> name "", rejected as unknown
    assert str(error_of("FROM x\nPARAMETER  temperature 0.7\n")) == "unknown parameter ''"


def test_only_one_separator_after_message() -> None:
    err = error_of("FROM x\nMESSAGE  user hi\n")
    assert str(err) == f"(line 2): {ROLE_ERROR}"
    assert err.line == 2


def test_extra_spaces_after_other_keywords_are_harmless() -> None:
    assert system_of("SYSTEM      hi\n") == "hi"


def test_tab_works_as_the_separator() -> None:
    mf = parse("FROM\tx\nPARAMETER\tnum_ctx\t64\nMESSAGE\tuser\thi\n")
    assert mf.parameters == {"num_ctx": 64}
    assert mf.messages == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("PARAMETER num-ctx 5\n", "unexpected EOF: num"),
        ("PARAMETER num_ctx\n", "unexpected EOF: num_ctx"),
        ("PARAMETER top.p 1\n", "unexpected EOF: top"),
        ("MESSAGE user\n", "unexpected EOF: user"),
        ("MESSAGE us3r hi\n", "unexpected EOF: us"),
    ],
)
def test_bad_characters_in_parameter_names_and_roles(line: str, expected: str) -> None:
    err = error_of("FROM x\n" + line)
    assert str(err) == expected
    assert err.line is None


def test_parameter_at_eof_without_value_is_unexpected_eof() -> None:
    assert str(error_of("FROM x\nPARAMETER num_ctx")) == "unexpected EOF"


# --------------------------------------------------------------------------- 1.5 case, repeats


def test_instruction_keywords_are_case_insensitive() -> None:
    mf = parse("from x\nSyStEm s\nPaRaMeTeR num_ctx 1\nmessage user m\n")
    assert (mf.from_, mf.system, mf.parameters) == ("x", "s", {"num_ctx": 1})


def test_parameter_names_are_case_sensitive() -> None:
    err = error_of("FROM x\nPARAMETER Temperature 0.5\n")
    assert str(err) == "unknown parameter 'Temperature'"
    assert "case-sensitive" in (err.hint or "")


@pytest.mark.parametrize("role", ["User", "tool", "ASSISTANT"])
def test_message_roles_are_exact_lowercase(role: str) -> None:
    assert str(error_of(f"FROM x\nMESSAGE {role} hi\n")) == f"(line 2): {ROLE_ERROR}"


def test_repetition_rules() -> None:
    mf = parse(
        "FROM a\nFROM b\nSYSTEM one\nSYSTEM two\nTEMPLATE t1\nTEMPLATE t2\n"
        "PARAMETER temperature 0.1\nPARAMETER temperature 0.2\n"
        "PARAMETER stop x\nPARAMETER stop y\nLICENSE l1\nLICENSE l2\n"
        "MESSAGE user u\nMESSAGE assistant a\nADAPTER a1\nADAPTER a2\n"
    )
    assert mf.from_ == "b"
    assert (mf.system, mf.template) == ("two", "t2")
    assert mf.parameters == {"temperature": 0.2, "stop": ["x", "y"]}
    assert mf.license == ["l1", "l2"]
    assert [m["role"] for m in mf.messages] == ["user", "assistant"]
    assert mf.adapters == ["a1", "a2"]


# --------------------------------------------------------------------------- 1.6 errors, lines


def test_unknown_instruction_reports_its_line() -> None:
    err = error_of("FROM x\n\n# c\nBOGUS y\n")
    assert str(err) == f"(line 4): {COMMAND_ERROR}"
    assert err.line == 4


def test_crlf_files_report_doubled_line_numbers() -> None:
    # verified: every \r and \n counts
    err = error_of("FROM x\r\nBAD y\r\n")
    assert err.line == 3


def test_digit_in_a_keyword_is_a_command_error() -> None:
    assert error_of("FROM x\nSYSTEM2 y\n").line == 2


def test_parser_errors_win_over_typing_errors() -> None:
    # ParseFile runs before parameters are typed
    err = error_of("FROM x\nPARAMETER num_ctx abc\nBAD\n")
    assert "command must be one of" in str(err)


def test_typing_errors_come_in_file_order() -> None:
    err = error_of("FROM x\nPARAMETER num_ctx abc\nPARAMETER nope 1\n")
    assert str(err) == "invalid int value [abc]"
    assert err.line == 2  # qwenkit adds the line; Ollama's text has none


# --------------------------------------------------------------------------- 1.7 typing


def params(*lines: str) -> dict[str, object]:
    return dict(parse("FROM x\n" + "".join(f"PARAMETER {line}\n" for line in lines)).parameters)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("8192", 8192), ("+5", 5), ("-1", -1), ("007", 7), ("9223372036854775807", 2**63 - 1)],
)
def test_int_parameters_accept_go_base10(raw: str, value: int) -> None:
    assert params(f"num_ctx {raw}") == {"num_ctx": value}


@pytest.mark.parametrize(
    "raw", ["8192.0", "0x10", "1e3", "1_000", "9223372036854775808", "", "+", "٣", "1 "]
)
def test_int_parameters_reject_everything_else(raw: str) -> None:
    text = f'FROM x\nPARAMETER num_ctx """{raw}"""\n'
    assert str(error_of(text)) == f"invalid int value [{raw}]"


def test_int_with_leading_space_fails() -> None:
    assert str(error_of('FROM x\nPARAMETER seed " 5"\n')) == "invalid int value [ 5]"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0.7", 0.7),
        ("1e-1", 0.1),
        ("1", 1.0),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("1_000.5", 1000.5),
        ("0x1p-2", 0.25),
        ("0X1.8P1", 3.0),
        ("1e1_0", 1e10),
        ("0.1234567891234", 0.12345679),  # float32 precision, shortest decimal
        ("1e-50", 0.0),  # underflows to zero without error, as in Go
        ("3.4028235e38", 3.4028235e38),
    ],
)
def test_float_parameters_follow_go_parsefloat32(raw: str, value: float) -> None:
    assert params(f"temperature {raw}") == {"temperature": value}


@pytest.mark.parametrize(
    "raw", ["abc", "1e", ".", "_1", "1_", "1__0", "0x10", "1e39", "-3.5e38", "inf", "NaN", "1,5"]
)
def test_float_parameters_reject_invalid_or_unsendable(raw: str) -> None:
    err = error_of(f"FROM x\nPARAMETER top_p {raw}\n")
    assert str(err) == f"invalid float value [{raw}]"


@pytest.mark.parametrize(
    ("raw", "value"),
    [(v, True) for v in ("1", "t", "T", "TRUE", "true", "True")]
    + [(v, False) for v in ("0", "f", "F", "FALSE", "false", "False")],
)
def test_bool_parameters_accept_go_spellings(raw: str, value: bool) -> None:
    assert params(f"use_mmap {raw}") == {"use_mmap": value}


@pytest.mark.parametrize("raw", ["yes", "no", "tRUE", "on", "2"])
def test_bool_parameters_reject_other_spellings(raw: str) -> None:
    assert str(error_of(f"FROM x\nPARAMETER use_mmap {raw}\n")) == f"invalid bool value [{raw}]"


def test_stop_is_always_a_list_in_file_order() -> None:
    assert params("stop <|im_end|>") == {"stop": ["<|im_end|>"]}
    assert params("stop a", 'stop "  b  "', "stop c") == {"stop": ["a", "  b  ", "c"]}


@pytest.mark.parametrize("name", ["tfs_z", "numa", "num_gqa", "rope_frequency_base", "Num_ctx"])
def test_removed_or_misspelled_names_are_unknown(name: str) -> None:
    assert str(error_of(f"FROM x\nPARAMETER {name} 1\n")) == f"unknown parameter '{name}'"


@pytest.mark.parametrize("name", ["mirostat", "penalize_newline", "use_mlock", "f16_kv"])
def test_deprecated_parameters_warn_and_are_dropped(name: str) -> None:
    with pytest.warns(DeprecatedParameterWarning, match=f"parameter {name} is deprecated"):
        mf = parse(f"FROM x\nPARAMETER {name} garbage\nPARAMETER num_ctx 8\n")
    assert mf.parameters == {"num_ctx": 8}


def test_every_known_parameter_parses() -> None:
    mf = parse(
        "FROM x\n"
        + "".join(
            f"PARAMETER {name} {value}\n"
            for name, value in [
                ("num_ctx", 1),
                ("num_batch", 2),
                ("num_gpu", 3),
                ("main_gpu", 4),
                ("use_mmap", "false"),
                ("num_thread", 5),
                ("draft_num_predict", 6),
                ("num_keep", 7),
                ("seed", 8),
                ("num_predict", 9),
                ("top_k", 10),
                ("top_p", 0.5),
                ("min_p", 0.05),
                ("typical_p", 1),
                ("repeat_last_n", 64),
                ("temperature", 0.8),
                ("repeat_penalty", 1.1),
                ("presence_penalty", 0.25),
                ("frequency_penalty", 0.5),
                ("stop", "END"),
            ]
        )
    )
    assert len(mf.parameters) == 20
    assert mf.parameters["use_mmap"] is False
    assert mf.parameters["min_p"] == 0.05
    assert all(math.isfinite(v) for v in mf.parameters.values() if isinstance(v, float))


# --------------------------------------------------------------------------- requires


@pytest.mark.parametrize("raw", ["0.14.0", "v0.14.0", "1", "v1.2", "1.2.3-rc.1+build.5"])
def test_requires_accepts_semver(raw: str) -> None:
    assert parse(f"FROM x\nREQUIRES {raw}\n").requires == raw


@pytest.mark.parametrize("raw", ["latest", "1.2-rc1", "01.2.3", "1.2.3.4", "vv1", "1.2.3-"])
def test_requires_rejects_non_semver(raw: str) -> None:
    err = error_of(f"FROM x\nREQUIRES {raw}\n")
    assert str(err) == "requires must be a valid semver (e.g. 0.14.0)"
    assert err.field == "requires"
