"""Start-up cost of qwenkit beside the official `ollama` client, counted in CPU instructions.

    PYTHONPATH=. python benchmarks/bench_import_instructions.py [--calls]

(`PYTHONPATH=.` makes sure the checkout is measured, not another install of qwenkit.)
Each case runs in a fresh interpreter under `valgrind --tool=callgrind`, which counts every
instruction the whole process executes (interpreter start-up included, as a user pays it).
The count is the same from run to run within a fraction of a percent, however busy the
machine is, so one run per case is enough; wall-clock cold imports (`bench_client.py`) swing
by tens of percent on a shared host. Each case runs once untimed first so `.pyc` files exist.

Goals (issue #12), as ratios to `import ollama` in the same run:
`import qwenkit; qwenkit.Client` ≤ 0.60x, `qwenkit --help` ≤ 0.25x and no client imported.
`import httpx, pydantic` is shown as the floor a client built on them cannot go under.

`--calls` also counts the instructions of one call (a non-streamed chat, a 200-chunk stream)
against the instant fake server of `bench_client.py`, beside bare httpx + `json.loads` and
`ollama`: the difference between runs of 25 and 125 calls, so start-up cancels out. It is the
work a call does, without the cache and scheduling effects that CPU time on a busy machine
adds (`bench_client.py` measures those).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: modules whose presence means a client was imported
CLIENT_MODULES = ("httpx", "pydantic", "qwenkit.client")

#: `qwenkit --help` as the console script runs it, then a check that it imported no client
HELP = f"""\
import sys
from qwenkit.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
client = {CLIENT_MODULES!r}
loaded = [m for m in sys.modules if m in client or m.startswith(tuple(c + "." for c in client))]
assert not loaded, f"qwenkit --help imported {{loaded}}"
"""

CASES: dict[str, str] = {
    "import ollama": "import ollama",
    "import qwenkit; qwenkit.Client": "import qwenkit; qwenkit.Client",
    "qwenkit --help": HELP,
    "import httpx, pydantic": "import httpx, pydantic",
    "python -c pass": "pass",
}

GOALS = {"import qwenkit; qwenkit.Client": 0.60, "qwenkit --help": 0.25}

#: one call per contender and case, after `setup`; `host` is the fake's base URL
CALLS_SETUP = """
import json, subprocess, sys
import httpx, ollama, qwenkit
server = subprocess.Popen([sys.executable, {server!r}], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
host = f"http://127.0.0.1:{{int(server.stdout.readline())}}"
M = [{{"role": "user", "content": "What is the capital of France?"}}]
O = {{"temperature": 0.7, "num_ctx": 8192}}
body = {{"model": "qwenkit-chat", "messages": M, "options": O, "stream": False}}
bare = httpx.Client(base_url=host, timeout=None)
qk, official = qwenkit.Client(host), ollama.Client(host)
def bare_stream():
    with bare.stream("POST", "/api/chat", json={{**body, "stream": True}}) as response:
        return [json.loads(line) for line in response.iter_lines() if line]
"""
STREAM = "stream (200 chunks)"
CALLS = {
    ("chat", "httpx + json.loads"): "json.loads(bare.post('/api/chat', json=body).content)",
    ("chat", "qwenkit"): "qk.chat('qwenkit-chat', M, options=O)",
    ("chat", "ollama"): "official.chat('qwenkit-chat', M, options=O)",
    (STREAM, "httpx iter_lines + json.loads"): "bare_stream()",
    (STREAM, "qwenkit"): "list(qk.chat('qwenkit-chat', M, options=O, stream=True))",
    (STREAM, "ollama"): "list(official.chat('qwenkit-chat', M, options=O, stream=True))",
}
CALL_GOALS = {("chat", "qwenkit"): 1.05, (STREAM, "qwenkit"): 1.05}


def instructions(code: str) -> int:
    """Instructions executed by `python -c code`, start-up and exit included."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
             "-c", code],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if run.returncode != 0:
            raise SystemExit(f"{code!r} failed under valgrind:\n{run.stderr[-2000:]}")
        match = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        if match is None:
            raise SystemExit(f"no instruction count in callgrind output for {code!r}")
        return int(match.group(1))


def per_call(call: str) -> float:
    """Instructions of one `call`: (125 calls - 25 calls) / 100; the first calls' one-off
    work (connections, building validators) falls in both runs and cancels out."""
    server = Path(__file__).with_name("_fake_ollama.py")
    setup = CALLS_SETUP.format(server=str(server))
    runs = [
        instructions(f"{setup}\nfor _ in range({n}):\n    {call}\nserver.stdin.close()")
        for n in (25, 125)
    ]
    return (runs[1] - runs[0]) / 100


def main_calls() -> bool:
    counts = {key: per_call(call) for key, call in CALLS.items()}
    print(f"\n{'case':<21} {'contender':<30} {'instructions per call':>22} {'ratio':>7}  goal")
    missed = False
    for (case, name), count in counts.items():
        ratio = count / next(v for (c, _), v in counts.items() if c == case)
        goal = CALL_GOALS.get((case, name))
        verdict = ""
        if goal is not None:
            verdict = f"≤ {goal:.2f}x {'ok' if ratio <= goal else 'MISSED'}"
            missed |= ratio > goal
        print(f"{case:<21} {name:<30} {count:>22,.0f} {ratio:>6.2f}x  {verdict}")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", action="store_true", help="also count one call's work")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    for code in CASES.values():  # write .pyc files and fail early on a broken case
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    counts = {name: instructions(code) for name, code in CASES.items()}
    base = counts["import ollama"]
    print(f"{sys.executable} (Python {sys.version.split()[0]}), whole-process instructions")
    print(f"{'case':<34} {'instructions':>14} {'ratio':>7}  goal")
    missed = False
    for name, count in counts.items():
        ratio = count / base
        goal = GOALS.get(name)
        verdict = ""
        if goal is not None:
            verdict = f"≤ {goal:.2f}x {'ok' if ratio <= goal else 'MISSED'}"
            missed |= ratio > goal
        print(f"{name:<34} {count:>14,} {ratio:>6.2f}x  {verdict}")
    if args.calls:
        missed |= main_calls()
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
