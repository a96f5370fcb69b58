"""PARAMETER values typed exactly as `ollama create` types them (`api.FormatParams`).

Go's `strconv` rules, not Python's: ints are `ParseInt(v, 10, 64)` (no `8192.0`, `0x10`, `1_000`
or blanks), floats are `ParseFloat(v, 32)` (Go literal syntax, rounded once to float32), bools
are Go's twelve spellings. Floats are held as the shortest decimal naming their float32 —
what Go's JSON encoder sends — so a parsed `0.7` is `0.7`, not `0.699999988079071`.
Names and kinds come from `qwenkit.options.PARAMETER_KINDS`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TypeAlias

from .._common.params import PARAMETER_KINDS
from ..errors import ModelfileError

ParamValue: TypeAlias = int | float | bool | list[str]

# --------------------------------------------------------------------------- Go strconv

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
    return nearest_float32(_go_float_literal(text))


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


def nearest_float32(exact: Fraction) -> float:
    """The float32 nearest `exact`, held as the shortest decimal naming it (Go's JSON text)."""
    return float(format_float32(round_to_float32(exact)))


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


# --------------------------------------------------------------------------- parameters

KIND_HINTS = {
    "int": "write a base-10 integer such as 8192 (no decimals, spaces, 0x or _)",
    "float": "write a finite number such as 0.7 that fits in a float32",
    "bool": "write true or false",
}


def parse_parameter(name: str, raw: str, line: int | None = None) -> ParamValue:
    """Type a PARAMETER value as `api.FormatParams` does, with its error texts."""
    kind = PARAMETER_KINDS.get(name)
    if kind is None:
        raise unknown_parameter(name, line)
    if kind == "list":
        return [raw]
    parse = {"int": go_parse_int, "float": go_parse_float32, "bool": go_parse_bool}[kind]
    try:
        return parse(raw)
    except ValueError:
        raise ModelfileError(
            f"invalid {kind} value [{raw}]",
            line=line,
            field=f"parameters.{name}",
            hint=KIND_HINTS[kind],
        ) from None


def unknown_parameter(name: str, line: int | None = None) -> ModelfileError:
    known = ", ".join(PARAMETER_KINDS)
    return ModelfileError(
        f"unknown parameter '{name}'",
        line=line,
        field="parameters",
        hint=f"parameter names are case-sensitive; valid ones: {known}",
    )


def normalize_parameter(name: object, value: object) -> ParamValue:
    """A constructed parameter checked and typed as if it had been parsed."""
    if not isinstance(name, str) or name not in PARAMETER_KINDS:
        raise unknown_parameter(str(name))
    kind = PARAMETER_KINDS[name]
    expected = {"int": "an int", "float": "a number", "bool": "a bool", "list": "a list of str"}
    field_name = f"parameters.{name}"
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list": isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
    }[kind]
    if not ok:
        raise ModelfileError(
            f"parameter {name} must be {expected[kind]}, not {value!r}", field=field_name
        )
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and kind == "int":
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ModelfileError(f"invalid int value [{value}]", field=field_name)
        return value
    assert isinstance(value, (int, float))
    return _float32(name, value)


def _float32(name: str, value: float) -> float:
    try:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(value)
        return nearest_float32(Fraction(value))
    except ValueError:
        raise ModelfileError(
            f"invalid float value [{value}]",
            field=f"parameters.{name}",
            hint=KIND_HINTS["float"],
        ) from None
