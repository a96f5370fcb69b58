"""No traceback, ever: every command and every option that takes a value, fed hostile values.

The commands and their parameters are read from the click tree itself, so a command added
later is covered without touching this file (a required parameter it cannot guess fails
`test_every_required_parameter_has_a_base_value`, which says what to add). Each run happens
in an empty working directory with no Ollama listening, and must end in:

- no traceback (in the output, or as an exception escaping the command);
- one of the documented exit codes;
- on failure, one `error:` line of bounded length followed by a `hint:` (a report command such
  as `status` may instead print its report, which carries hints);
- on failure, nothing written to the working directory or the home directory.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from qwenkit.cli import cli
from tests.gguf_factory import make_qwen2_gguf

#: README: 0 ok, 1 declined or another error, 2 usage, 3 Ollama unreachable, 4 no plan fits,
#: 5 verification failed, 130 interrupted.
EXIT_CODES = {0, 1, 2, 3, 4, 5, 130}
EXIT_USAGE = 2

MALFORMED_URLS = [
    ":::",
    "[::1",
    "http://[::1",
    "http://",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:-5",
    "http://127.0.0.1:port",
    "ftp://127.0.0.1:11434",
    "http://bad host:11434",
    "http://127.0.0.1:11434?x=1",
]

#: Every option that takes a value gets each of these (malformed URLs beyond the first three
#: are fed to the URL options only, in `test_a_malformed_url_is_a_usage_error_everywhere`).
HOSTILE = [
    "",
    "   ",
    "9" * 5000,
    "x" * 5000,
    "-1",
    "0",
    "99999999999999999999",
    "nan",
    "ünïcødé ☃ 模型",
    "a\tb\x1b[31mred",
    "bad name!",
    "garbage",
    "/nonexistent/qwenkit/path",
    "{directory}",
    *MALFORMED_URLS[:3],
]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def walk(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command under `group`, once per command object (aliases are skipped)."""
    ctx = click.Context(group)
    seen: set[int] = set()
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if id(command) in seen:
            continue
        seen.add(id(command))
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(walk(cli))


def takes_value(param: click.Parameter) -> bool:
    if isinstance(param, click.Option):
        return not (param.is_flag or param.count or param.hidden)
    return True


#: Valid values for the parameters a command cannot run without; `{gguf}` is a small qwen2
#: GGUF and `{url}` a loopback URL with nothing behind it. A command may have several bases.
BASES: dict[tuple[str, ...], list[dict[str, str | bool]]] = {
    ("setup",): [{"yes": True}, {"dry_run": True}],
    ("modelfile",): [{"variant": "chat"}],
    ("extend-context",): [{"src": "{gguf}", "dst": "out.gguf"}],
    ("webui", "sync"): [{"url": "{url}", "token": "t"}],
    ("webui", "check"): [{"url": "{url}", "token": "t"}],
}


def bases(path: tuple[str, ...]) -> list[dict[str, str | bool]]:
    return BASES.get(path, [{}])


def argv(command: click.Command, values: dict[str, str | bool]) -> list[str]:
    """Options first, then `--` and the arguments (so an argument may start with `-`)."""
    options: list[str] = []
    arguments: list[str] = []
    for param in command.params:
        if param.name not in values:
            continue
        value = values[param.name]
        if isinstance(param, click.Argument):
            arguments.append(str(value))
        elif value is True:
            options.append(param.opts[0])
        else:
            options += [param.opts[0], str(value)]
    return [*options, "--", *arguments] if arguments else options


CASES = [
    pytest.param(path, i, param.name, value, id=f"{' '.join(path)}:{i}:{param.name}={value[:12]!r}")
    for path, command in COMMANDS.items()
    for i, _ in enumerate(bases(path))
    for param in command.params
    if param.name and takes_value(param)
    for value in HOSTILE
]


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A GGUF and a directory, outside the working directory; a port nothing listens on."""
    root = tmp_path_factory.mktemp("outside")
    make_qwen2_gguf(root / "base.gguf")
    (root / "directory").mkdir()
    return root, closed_port()


@pytest.fixture
def sandbox(monkeypatch, outside):
    """An empty working directory and home, the `outside` files, no server."""
    root, port = outside
    base = Path(tempfile.mkdtemp(dir=root))  # cheaper than a tmp_path per case
    work, home = base / "work", base / "home"
    for d in (work, home):
        d.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    monkeypatch.setenv("NO_COLOR", "1")
    return {
        "work": work,
        "home": home,
        "{gguf}": str(root / "base.gguf"),
        "{url}": f"http://127.0.0.1:{port}",
        "{directory}": str(root / "directory"),
    }


def fill(value: str | bool, sandbox: dict) -> str | bool:
    return sandbox.get(value, value) if isinstance(value, str) else value


def snapshot(*roots: Path) -> set[Path]:
    return {p for root in roots for p in root.rglob("*")}


def run(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env, input="", catch_exceptions=True)


def assert_clean_failure(result: Result, args: list[str]) -> None:
    shown = f"qwenkit {' '.join(a[:40] for a in args)}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        shown + f"\nescaped: {result.exception!r}"
    )
    assert "Traceback" not in result.output, shown
    assert result.exit_code in EXIT_CODES, shown
    if result.exit_code == 0:
        return
    lines = result.stderr.splitlines() + result.stdout.splitlines()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.exit_code == EXIT_USAGE or errors:
        assert len(errors) == 1, shown
        assert len(errors[0]) <= 400, shown
        assert any(line.startswith("hint:") for line in result.stderr.splitlines()), shown
    else:  # a report (status, webui check): its failures carry hints or fixes
        assert any("hint:" in line or "fix:" in line for line in lines), shown


@pytest.mark.parametrize(("path", "base", "name", "value"), CASES)
def test_hostile_value(sandbox, path, base, name, value):
    command = COMMANDS[path]
    values = {k: fill(v, sandbox) for k, v in bases(path)[base].items()}
    values[name] = fill(value, sandbox)
    args = [*path, *argv(command, values)]
    before = snapshot(sandbox["work"], sandbox["home"])
    result = run(args)
    assert_clean_failure(result, args)
    if result.exit_code != 0:
        assert snapshot(sandbox["work"], sandbox["home"]) == before, "a failed run wrote files"


HOST_OPTIONS = [
    (path, param.name)
    for path, command in COMMANDS.items()
    for param in command.params
    if param.name in ("host", "url", "ollama_url", "webui_url")
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
@pytest.mark.parametrize(("path", "name"), HOST_OPTIONS, ids=lambda x: str(x))
def test_a_malformed_url_is_a_usage_error_everywhere(sandbox, path, name, url):
    values = {k: fill(v, sandbox) for k, v in bases(path)[0].items()}
    values[name] = url
    args = [*path, *argv(COMMANDS[path], values)]
    result = run(args)
    assert_clean_failure(result, args)
    assert result.exit_code == EXIT_USAGE, result.output


@pytest.mark.parametrize("url", [u for u in MALFORMED_URLS if "://" not in u or "[" in u])
@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_a_malformed_ollama_host_is_a_usage_error(sandbox, path, url):
    """Every command that talks to Ollama reads OLLAMA_HOST by the same rules as --host."""
    values = {k: fill(v, sandbox) for k, v in bases(path)[0].items()}
    args = [*path, *argv(COMMANDS[path], values)]
    result = run(args, env={"OLLAMA_HOST": url})
    assert_clean_failure(result, args)
    if any(p.name == "host" for p in COMMANDS[path].params):
        assert result.exit_code == EXIT_USAGE, result.output


def test_every_required_parameter_has_a_base_value():
    for path, command in COMMANDS.items():
        for base in bases(path):
            missing = [p.name for p in command.params if p.required and p.name not in base]
            assert not missing, f"add a valid value for {missing} of `{' '.join(path)}` to BASES"


def test_the_tree_is_walked():
    """The walk reaches nested groups; a new command is covered without editing this file."""
    assert {("setup",), ("chat",), ("webui", "sync"), ("webui", "compose")} <= set(COMMANDS)
    assert len(CASES) > 500
