"""Every code block of the README runs, or says why it cannot; every command line it shows
parses against the `qwenkit` click tree; every `qwenkit.X` it names exists.

A ```python block is run as a user would paste it: a fresh namespace, a fresh working
folder, `OLLAMA_HOST` pointing at `tests/fake_ollama` (in process, seeded from
examples/fake/default.json). HTML comments on the lines right above the fence steer it:

    <!-- fake: PATH -->            the fake's state file (scripted answers, models)
    <!-- file: NAME from PATH -->  copy a repository file into the working folder first
    <!-- prints: TEXT -->          TEXT must appear in what the block prints
    <!-- not run: REASON -->       never run (compiled, its `qwenkit.X` names resolved)

Any other comment there is an error, so nothing is skipped by a typo.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from qwenkit.cli import cli
from tests.fake_ollama.__main__ import build, parse_args

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULT_STATE = "examples/fake/default.json"
DIRECTIVE = re.compile(r"<!-- (fake|file|prints|not run): (.+?) -->")


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    fake: str = DEFAULT_STATE
    files: dict[str, str] = field(default_factory=dict)
    prints: list[str] = field(default_factory=list)
    not_run: str | None = None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def _directives(block: Block, above: list[str]) -> None:
    """Read the comment lines right above the fence into `block`."""
    for text in reversed(above):
        if not text.startswith("<!--"):
            break
        match = DIRECTIVE.fullmatch(text.strip())
        assert match, f"{block.id}: unknown directive {text!r}"
        key, value = match.groups()
        if key == "fake":
            block.fake = value
        elif key == "file":
            name, _, source = value.partition(" from ")
            block.files[name] = source
        elif key == "prints":
            block.prints.append(value)
        else:
            block.not_run = value


def blocks(text: str = README) -> list[Block]:
    """The fenced code blocks of a Markdown text, with their directives."""
    lines = text.splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = re.fullmatch(r"```(\w*)", lines[index])
        if fence is None:
            index += 1
            continue
        end = lines.index("```", index + 1)
        block = Block(index + 1, fence.group(1), "\n".join(lines[index + 1 : end]) + "\n")
        _directives(block, lines[max(0, index - 5) : index])
        found.append(block)
        index = end + 1
    return found


PYTHON = [b for b in blocks() if b.lang == "python"]
RUN = [b for b in PYTHON if b.not_run is None]


def test_the_readme_has_its_sdk_snippets():
    assert len(PYTHON) >= 7
    code = "".join(b.code for b in RUN)
    for call in ("qwenkit.Client()", "qwenkit.AsyncClient()", "run_tools=True", "stream=True"):
        assert call in code
    # the rest are shell (```bash) or plain text (the Layout tree, a report's table)
    assert {b.lang for b in blocks()} <= {"python", "bash", ""}


def test_the_directives_above_a_fence_are_read_and_a_typo_is_refused():
    text = """Some text.
<!-- fake: a.json -->
<!-- file: Modelfile from modelfiles/x.Modelfile -->
<!-- prints: 21.5 -->
```python
print(21.5)
```

<!-- not run: needs a vLLM server on a GPU box -->
```python
import qwenkit
```
"""
    first, second = blocks(text)
    assert (first.fake, first.files, first.prints, first.not_run) == (
        "a.json",
        {"Modelfile": "modelfiles/x.Modelfile"},
        ["21.5"],
        None,
    )
    assert (second.line, second.fake, second.not_run) == (
        10,
        DEFAULT_STATE,
        "needs a vLLM server on a GPU box",
    )
    with pytest.raises(AssertionError, match="unknown directive"):
        blocks("<!-- not-run: typo -->\n```python\npass\n```\n")


@contextlib.contextmanager
def fake_from(state: str) -> Iterator[str]:
    with build(parse_args(["--state", str(ROOT / state)])) as fake:
        yield fake.url


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.id)
def test_the_python_block_runs_against_the_fake(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    for name, source in block.files.items():
        shutil.copyfile(ROOT / source, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    with fake_from(block.fake) as url:
        monkeypatch.setenv("OLLAMA_HOST", url)
        code = compile(block.code, block.id, "exec")
        exec(code, {"__name__": "__main__"})
    printed = capsys.readouterr().out
    assert printed.strip(), f"{block.id} printed nothing"
    for text in block.prints:
        assert text in printed, f"{block.id} should print {text!r}, printed:\n{printed}"


def _names(code: str) -> set[str]:
    """The dotted `qwenkit.X.Y` names in a text (not `qwenkit/…` paths)."""
    return set(re.findall(r"\bqwenkit(?:\.[A-Za-z_]\w*)+", code))


def _resolve(dotted: str) -> object:
    head, *rest = dotted.split(".")
    value: object = importlib.import_module(head)
    for part in rest:
        value = getattr(value, part)
    return value


def test_a_block_not_run_says_why_compiles_and_names_real_api():
    for block in (b for b in PYTHON if b.not_run is not None):
        assert len(block.not_run or "") > 10, f"{block.id}: say why it is not run"
        compile(block.code, block.id, "exec")
        for name in _names(block.code):
            _resolve(name)


def test_every_qwenkit_name_in_the_readme_exists():
    names = _names(README)
    assert "qwenkit.Client" in names and "qwenkit.yarn.extend_context" in names
    missing = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (AttributeError, ImportError):
            missing.append(name)
    assert not missing


def test_every_error_and_warning_the_readme_names_exists():
    import qwenkit
    import qwenkit.errors

    named = set(re.findall(r"`(?:qwenkit\.)?([A-Z]\w*(?:Error|Warning))`", README))
    assert {"ToolRoundsError", "StructuredOutputError", "OllamaUnavailableError"} <= named
    for name in sorted(named):
        where = (builtins, qwenkit, qwenkit.errors)
        assert any(hasattr(module, name) for module in where), name


# ---- command lines ------------------------------------------------------------------------


def _command_lines() -> list[tuple[int, str]]:
    """Each `qwenkit …` line of the README's code (indented and ```bash blocks) and each
    inline `qwenkit …` span, as (line number, command without comment or redirection)."""
    found: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(README.splitlines(), 1):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        code = in_fence or line.startswith("    ")
        candidates = line.split("&&") if code else re.findall(r"`([^`]+)`", line)
        for part in candidates:
            command = part.split(" #", 1)[0].split(" > ", 1)[0].strip()
            words = command.split()
            if words and re.fullmatch(r"[\w./-]*?qwenkit", words[0]):
                found.append((number, command))
    return found


COMMANDS = _command_lines()


def parse_command(argv: list[str]) -> click.Context:
    """Parse argv against the click tree as `qwenkit` would, without running anything.

    A value click refuses only because a placeholder file does not exist here is fine; an
    unknown command or option, a missing argument or an extra one is not.
    """
    ctx = click.Context(cli, info_name="qwenkit")
    while isinstance(ctx.command, click.Group) and argv and not argv[0].startswith("-"):
        name, argv = argv[0], argv[1:]
        sub = ctx.command.get_command(ctx, name)
        assert sub is not None, f"no command {ctx.command_path} {name}"
        ctx = click.Context(sub, info_name=name, parent=ctx)
    try:
        # a copy of argv: click consumes the list it is given
        return ctx.command.make_context(ctx.info_name, list(argv), parent=ctx.parent)
    except click.BadParameter as err:
        placeholder = any(f"'{w}'" in err.message for w in argv if re.fullmatch("[A-Z]+", w))
        if placeholder or (err.param is not None and isinstance(err.param.type, click.Path)):
            return ctx  # a value refused because it is a placeholder (N, URL) or a missing file
        raise


def test_the_readme_shows_the_commands():
    lines = {command for _, command in COMMANDS}
    assert "qwenkit setup --dry-run" in lines and ".venv/bin/qwenkit setup" in lines
    assert len(lines) > 30


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"README.md:{c[0]}")
def test_the_command_line_parses(command: tuple[int, str]):
    argv = shlex.split(command[1])[1:]
    if argv in (["--help"], []):
        return
    ctx = parse_command(argv)
    assert not ctx.args, f"unexpected arguments {ctx.args}"


@pytest.mark.parametrize(
    "argv",
    [["setup", "--dry-runn"], ["webui", "synk"], ["extend-context", "a", "b", "c"], ["modelfile"]],
)
def test_a_renamed_option_or_command_would_fail(argv: list[str]):
    with pytest.raises((click.UsageError, AssertionError)):
        ctx = parse_command(argv)
        assert not ctx.args
