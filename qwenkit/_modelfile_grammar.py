"""Ollama's Modelfile grammar, rune for rune: tokenising, quoting, and Go value typing.

This is the low level under `qwenkit.modelfile`. It mirrors `parser.ParseFile`,
`parser.quote`/`unquote` and the `strconv` calls in `api.FormatParams` (Ollama v0.33), so a
file qwenkit reads or writes means exactly what it means to `ollama create`. The state machine
and its quirks are described in `shared/reference/ollama-api.md` §1.

Known, deliberate limits: printability follows Python's Unicode tables (the same definition
as Go's `strconv.IsPrint`, possibly an older Unicode version), and `str` input is taken as
already decoded (only a leading BOM is dropped).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from .errors import ModelfileError

COMMANDS = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
ROLES = ("system", "user", "assistant")

ERR_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
ERR_ROLE = 'message role must be one of "system", "user", or "assistant"'
ERR_EOF = "unexpected EOF"
ERR_NO_FROM = "no FROM line"

_BLANKS = " \t"
_NEWLINES = "\r\n"
_ASCII_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PARAM_NAME_CHARS = _ASCII_ALPHA | frozenset("0123456789_")


@dataclass(frozen=True)
class Command:
    """One instruction as Ollama stores it: `name` is `model`, a keyword, or a parameter name."""

    name: str
    args: str
    line: int  # line on which the instruction starts (Ollama's counting)
    role: str | None = None  # only for `message`


# --------------------------------------------------------------------------- decoding


def decode(data: str | bytes) -> str:
    """Turn file bytes into text as Ollama's reader does: BOM sniffing, U+FFFD per bad byte."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode_utf8(data[3:])
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace")
    return _decode_utf8(data)


def _decode_utf8(data: bytes) -> str:
    """UTF-8 where every invalid byte becomes one U+FFFD, as Go's decoder does."""
    out: list[str] = []
    pos = 0
    while True:
        try:
            out.append(data[pos:].decode("utf-8"))
            return "".join(out)
        except UnicodeDecodeError as err:
            out.append(data[pos : pos + err.start].decode("utf-8"))
            out.append("\ufffd" * (err.end - err.start))
            pos += err.end


# --------------------------------------------------------------------------- tokeniser


class _ValueBuffer:
    """The value being read, with O(1) access to its trimmed ends.

    Ollama re-trims the whole buffer at every line break to see whether the value is complete;
    tracking the first and last non-blank positions gives the same answer without the
    quadratic cost on long multi-line prompts.
    """

    __slots__ = ("chars", "first", "last")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.first = -1  # index of the first non-blank char, -1 while none
        self.last = -1

    def append(self, ch: str) -> None:
        if ch not in " \t\r\n":
            if self.first < 0:
                self.first = len(self.chars)
            self.last = len(self.chars)
        self.chars.append(ch)

    def unquoted(self) -> str | None:
        """The finished value, or None while a quote is still open (Ollama's `unquote`)."""
        if self.first < 0:
            return ""
        chars, first, last = self.chars, self.first, self.last
        size = last - first + 1

        def quotes_at(start: int, count: int) -> bool:
            return all(chars[i] == '"' for i in range(start, start + count))

        if size >= 3 and quotes_at(first, 3):
            if size >= 6 and quotes_at(last - 2, 3):
                return "".join(chars[first + 3 : last - 2])
            return None
        if chars[first] == '"':
            if size >= 2 and chars[last] == '"':
                return "".join(chars[first + 1 : last])
            return None
        return "".join(chars[first : last + 1])


def _parser_error(line: int, message: str) -> ModelfileError:
    return ModelfileError(f"(line {line}): {message}", line=line)


def _eof_error(partial: str | None = None) -> ModelfileError:
    text = ERR_EOF if partial is None else f"{ERR_EOF}: {partial}"
    return ModelfileError(
        text,
        hint="a quoted value is never closed, or a PARAMETER name / MESSAGE role is cut short",
    )


def tokenize(text: str) -> list[Command]:
    """Split Modelfile text into commands exactly as `parser.ParseFile` does (§1.2)."""
    commands: list[Command] = []
    state = "nil"
    line = start = 1
    word: list[str] = []  # keyword, parameter name or role being read
    value = _ValueBuffer()
    name = role = ""
    for ch in text:
        if ch in _NEWLINES:
            line += 1
        if state == "value":
            if ch in _NEWLINES:
                finished = value.unquoted()
                if finished is not None:
                    commands.append(Command(name, finished, start, role or None))
                    state, role, value = "nil", "", _ValueBuffer()
                    continue
                value.append(ch)
            elif ch in _BLANKS or ch.isprintable():
                value.append(ch)
        elif state == "nil":
            if ch == "#":
                state = "comment"
            elif ch not in _BLANKS and ch not in _NEWLINES:
                state, start = "name", line
                word = [ch] if ch.isprintable() else []
        elif state == "comment":
            if ch in _NEWLINES:
                state = "nil"
        elif state == "name":
            if ch in _ASCII_ALPHA:
                word.append(ch)
            elif ch in _BLANKS:
                state, name = _after_keyword("".join(word), line)
                word = []
            else:
                raise _parser_error(line, ERR_COMMAND)
        elif state == "parameter":
            if ch in _PARAM_NAME_CHARS:
                word.append(ch)
            elif ch in _BLANKS:
                state, name, word = "value", "".join(word), []
            else:
                raise _eof_error("".join(word))
        else:  # message role
            if ch in _ASCII_ALPHA:
                word.append(ch)
            elif ch in _BLANKS:
                role = "".join(word)
                if role not in ROLES:
                    raise _parser_error(line, ERR_ROLE)
                state, word = "value", []
            else:
                raise _eof_error("".join(word))
    return _finish(commands, state, value, name, role, start)


def _after_keyword(keyword: str, line: int) -> tuple[str, str]:
    """Next state and stored command name once a keyword is followed by a blank."""
    lowered = keyword.lower()
    if lowered not in COMMANDS:
        raise _parser_error(line, ERR_COMMAND)
    if lowered == "parameter":
        return "parameter", ""
    if lowered == "message":
        return "role", "message"
    return "value", "model" if lowered == "from" else lowered


def _finish(
    commands: list[Command], state: str, value: _ValueBuffer, name: str, role: str, start: int
) -> list[Command]:
    """EOF handling: flush a complete value, fail on anything half-read, require FROM."""
    if state == "value":
        finished = value.unquoted()
        if finished is None:
            raise _eof_error()
        commands.append(Command(name, finished, start, role or None))
    elif state not in ("nil", "comment"):
        raise _eof_error()
    if not any(cmd.name == "model" for cmd in commands):
        raise ModelfileError(ERR_NO_FROM, hint="add a line such as `FROM qwen2.5:7b-instruct`")
    return commands


# --------------------------------------------------------------------------- writing values

_CLOSES_TRIPLE = re.compile(r'"""[ \t]*[\r\n]')
_KEPT_CONTROLS = str.maketrans("", "", "\t\r\n")


def unrepresentable(value: str) -> str | None:
    """Why `value` cannot be written in a Modelfile, or None if it can (§1.8).

    Two things cannot be: a character Ollama's reader drops (non-printable other than tab,
    CR, LF), and `\"\"\"` followed only by blanks and a line break, which ends a value early.
    """
    if not value.isprintable() and not value.translate(_KEPT_CONTROLS).isprintable():
        bad = next(ch for ch in value if not ch.isprintable() and ch not in "\t\r\n")
        return f"contains the non-printable character U+{ord(bad):04X}, which Ollama drops"
    if _CLOSES_TRIPLE.search(value):
        return 'contains """ at the end of a line, which Ollama reads as the end of the value'
    return None


def quote(value: str) -> str:
    """The shortest text Ollama reads back as `value` (assumes it is representable).

    Raw when nothing could be trimmed or unquoted away; otherwise wrapped in triple quotes,
    which (unlike `"`) survive every embedded quote that is not at a line end.
    """
    if (
        value
        and value[0] not in ' \t"'
        and value[-1] not in " \t"
        and "\n" not in value
        and "\r" not in value
    ):
        return value
    return f'"""{value}"""'


# --------------------------------------------------------------------------- Go value typing

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_GO_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOL |= {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_GO_DEC_FLOAT = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9_]*)(?:\.(?P<frac>[0-9_]*))?(?:[eE](?P<exp>[+-]?[0-9][0-9_]*))?",
    re.ASCII,
)
_GO_HEX_FLOAT = re.compile(
    r"(?P<sign>[+-]?)0[xX](?P<int>[0-9a-fA-F_]*)(?:\.(?P<frac>[0-9a-fA-F_]*))?"
    r"[pP](?P<exp>[+-]?[0-9][0-9_]*)",
    re.ASCII,
)
_GO_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)
_F32_MAX_EXP, _F32_MIN_EXP, _F32_MANT = 127, -126, 23
_SIG_DIGITS = 120  # enough decimal digits to round any value to float32 exactly


def go_parse_int(text: str) -> int:
    """`strconv.ParseInt(text, 10, 64)`: sign and ASCII digits only, int64 range."""
    if not _GO_INT.fullmatch(text):
        raise ValueError(text)
    number = int(text)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError(text)
    return number


def go_parse_bool(text: str) -> bool:
    """`strconv.ParseBool`: only Go's twelve spellings."""
    try:
        return _GO_BOOL[text]
    except KeyError:
        raise ValueError(text) from None


def go_parse_float32(text: str) -> float:
    """`strconv.ParseFloat(text, 32)`, as the shortest decimal that names the same float32.

    That is the number Go's JSON encoder sends for a float32, so it is what the server sees.
    Infinity and NaN parse in Go but cannot be sent as JSON, so they are refused here.
    """
    if _GO_SPECIAL.fullmatch(text):
        raise ValueError(f"{text} is not finite")
    exact = _go_float_literal(text)
    return float(format_float32(round_to_float32(exact)))


def _go_float_literal(text: str) -> Fraction:
    """The exact value of a Go float literal accepted by `strconv.ParseFloat`."""
    hexa = _GO_HEX_FLOAT.fullmatch(text)
    match = hexa or _GO_DEC_FLOAT.fullmatch(text)
    if match is None or not _underscores_ok(text):
        raise ValueError(text)
    int_digits = (match["int"] or "").replace("_", "")
    frac_digits = (match["frac"] or "").replace("_", "")
    if not int_digits + frac_digits:
        raise ValueError(text)
    exponent = int(match["exp"].replace("_", "")) if match["exp"] else 0
    sign = -1 if match["sign"] == "-" else 1
    if hexa:
        mantissa = int(int_digits + frac_digits, 16)
        return sign * Fraction(mantissa) * Fraction(2) ** (exponent - 4 * len(frac_digits))
    return sign * _decimal_fraction(int_digits + frac_digits, exponent - len(frac_digits))


def _decimal_fraction(digits: str, exponent: int) -> Fraction:
    """digits × 10**exponent, clamped far outside float32 range and with a sticky last digit."""
    stripped = digits.lstrip("0")
    if not stripped:
        return Fraction(0)
    if len(stripped) > _SIG_DIGITS:
        sticky = "1" if stripped[_SIG_DIGITS:].strip("0") else ""
        exponent += len(stripped) - _SIG_DIGITS - len(sticky)
        stripped = stripped[:_SIG_DIGITS] + sticky
    magnitude = len(stripped) + exponent  # value < 10**magnitude
    if magnitude > 60:
        return Fraction(10) ** 60  # certainly overflows float32
    if magnitude < -60:
        return Fraction(0)  # certainly underflows to zero
    return Fraction(int(stripped)) * Fraction(10) ** exponent


def _underscores_ok(text: str) -> bool:
    """Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit."""
    body = text[1:] if text[:1] in "+-" else text
    saw, i, hexa = "^", 0, False
    if len(body) >= 2 and body[0] == "0" and body[1].lower() in "box":
        saw, i, hexa = "0", 2, body[1].lower() == "x"
    for ch in body[i:]:
        if ch in "0123456789" or (hexa and ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def round_to_float32(value: Fraction) -> float:
    """Round an exact value to the nearest float32 (ties to even); overflow is ValueError."""
    if value == 0:
        return 0.0
    sign = -1.0 if value < 0 else 1.0
    magnitude = abs(value)
    exp = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exp > magnitude:
        exp -= 1
    ulp_exp = max(exp, _F32_MIN_EXP) - _F32_MANT
    scaled = magnitude / Fraction(2) ** ulp_exp
    mantissa, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest > scaled.denominator or (2 * rest == scaled.denominator and mantissa % 2):
        mantissa += 1
    if mantissa.bit_length() + ulp_exp > _F32_MAX_EXP + 1:
        raise ValueError("out of float32 range")
    return sign * math.ldexp(mantissa, ulp_exp)


def format_float32(value: float) -> str:
    """The shortest decimal that reads back as the same float32 (what Go's JSON prints)."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not finite")
    target = round_to_float32(Fraction(value))
    for digits in range(1, 10):
        text = f"{target:.{digits}g}"
        try:
            if round_to_float32(Fraction(text)) == target:
                return text
        except ValueError:  # a short rounding of the largest float32 can overflow
            continue
    return repr(target)  # unreachable: 9 significant digits always identify a float32
