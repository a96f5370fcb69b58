"""Ollama's Modelfile grammar, rune for rune: tokenising, quoting, and Go value typing.

This is the low level under `qwenkit.modelfile`. It mirrors `parser.ParseFile` and
`parser.quote`/`unquote` (Ollama v0.33), so a file qwenkit reads or writes means exactly what
it means to `ollama create`. The state machine and its quirks are described in
`shared/reference/ollama-api.md` §1; parameter typing lives in `_modelfile_params`.

Known, deliberate limits: printability follows Python's Unicode tables (the same definition
as Go's `strconv.IsPrint`, possibly an older Unicode version), and `str` input is taken as
already decoded (only a leading BOM is dropped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ModelfileError

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
    return _Tokenizer().run(text)


class _Tokenizer:
    """Ollama's state machine: one method per state, fed one character at a time.

    Line numbers count every CR and every LF before the character is handled, as Ollama does
    (so CRLF files report doubled numbers, and an error at a line break names the next line).
    """

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.state: Callable[[str], None] = self._idle
        self.line = self.start = 1
        self.word: list[str] = []  # keyword, parameter name or role being read
        self.value = _ValueBuffer()
        self.name = self.role = ""

    def run(self, text: str) -> list[Command]:
        for ch in text:
            if ch in _NEWLINES:
                self.line += 1
            self.state(ch)
        return self._finish()

    def _idle(self, ch: str) -> None:
        if ch == "#":
            self.state = self._comment
        elif ch not in _BLANKS and ch not in _NEWLINES:
            self.state, self.start = self._keyword, self.line
            self.word = [ch] if ch.isprintable() else []  # a dropped rune still starts a name

    def _comment(self, ch: str) -> None:
        if ch in _NEWLINES:
            self.state = self._idle

    def _keyword(self, ch: str) -> None:
        if ch in _ASCII_ALPHA:
            self.word.append(ch)
            return
        keyword = "".join(self.word).lower()
        if ch not in _BLANKS or keyword not in COMMANDS:
            raise _parser_error(self.line, ERR_COMMAND)
        self.word = []
        if keyword == "parameter":
            self.state = self._parameter
        elif keyword == "message":
            self.state, self.name = self._role, "message"
        else:
            self.state, self.name = self._value, "model" if keyword == "from" else keyword

    def _parameter(self, ch: str) -> None:
        if ch in _PARAM_NAME_CHARS:
            self.word.append(ch)
        elif ch in _BLANKS:  # exactly one separator: a second blank starts the value
            self.state, self.name, self.word = self._value, "".join(self.word), []
        else:
            raise _eof_error("".join(self.word))

    def _role(self, ch: str) -> None:
        if ch in _ASCII_ALPHA:
            self.word.append(ch)
        elif ch in _BLANKS:
            self.role = "".join(self.word)
            if self.role not in ROLES:
                raise _parser_error(self.line, ERR_ROLE)
            self.state, self.word = self._value, []
        else:
            raise _eof_error("".join(self.word))

    def _value(self, ch: str) -> None:
        if ch in _NEWLINES:
            finished = self.value.unquoted()
            if finished is None:  # a quote is still open: the line break is part of the value
                self.value.append(ch)
            else:
                self._emit(finished)
                self.state = self._idle
        elif ch in _BLANKS or ch.isprintable():
            self.value.append(ch)

    def _emit(self, args: str) -> None:
        self.commands.append(Command(self.name, args, self.start, self.role or None))
        self.role, self.value = "", _ValueBuffer()

    def _finish(self) -> list[Command]:
        """EOF: flush a complete value, fail on anything half-read, require FROM."""
        if self.state == self._value:
            finished = self.value.unquoted()
            if finished is None:
                raise _eof_error()
            self._emit(finished)
        elif self.state not in (self._idle, self._comment):
            raise _eof_error()
        if not any(cmd.name == "model" for cmd in self.commands):
            raise ModelfileError(ERR_NO_FROM, hint="add a line such as `FROM qwen2.5:7b-instruct`")
        return self.commands


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
