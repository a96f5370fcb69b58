"""`qwenkit.OpenAIClient` overhead against an OpenAI-compatible server, beside bare httpx.

    PYTHONPATH=. python benchmarks/bench_openai_client.py [--rounds 100] [--block 10]

Starts the instant fake (`_fake_ollama.py --openai`: vLLM's JSON and event-stream shapes,
prebuilt) in a child process and times, as `bench_client.py` does (client CPU time, median of
single calls, contenders interleaved in random order):

* a non-streamed chat: bare `httpx` post + `json.loads` vs `OpenAIClient.chat`;
* a 200-chunk streamed chat: bare `httpx` `iter_lines` + `json.loads` of each `data:` line vs
  `OpenAIClient.chat(stream=True)` (typed chunks, tool-call assembly, usage);
* the official `openai` client for the same two calls, when it is installed (it is not a
  qwenkit dependency; this is how the choice of httpx + our own models was measured).

Goal (issue #15): the stream ≤ 1.05× bare httpx.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from bench_client import bench_calls

import qwenkit

MODEL = "qwen2.5-7b-instruct"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
GOAL = 1.05


def start_server() -> tuple[subprocess.Popen[str], str]:
    script = Path(__file__).with_name("_fake_ollama.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--openai"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def contenders(base: str) -> dict[str, dict[str, Callable[[], object]]]:
    bare = httpx.Client(base_url=base, timeout=None)
    qk = qwenkit.OpenAIClient(base, api_key="k")
    payload = {"model": MODEL, "messages": MESSAGES, "temperature": 0.7}

    def bare_chat() -> object:
        return json.loads(bare.post("/chat/completions", json=payload).content)

    def bare_stream() -> object:
        body = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        with bare.stream("POST", "/chat/completions", json=body) as response:
            return [
                json.loads(line[6:])
                for line in response.iter_lines()
                if line.startswith("data: ") and line != "data: [DONE]"
            ]

    options = {"temperature": 0.7}
    chat = {
        "httpx + json.loads": bare_chat,
        "qwenkit.OpenAIClient": lambda: qk.chat(MODEL, MESSAGES, options=options),
    }
    stream = {
        "httpx iter_lines + json.loads": bare_stream,
        "qwenkit.OpenAIClient": lambda: list(
            qk.chat(MODEL, MESSAGES, options=options, stream=True)
        ),
        "qwenkit.OpenAIClient + final()": lambda: qk.chat(
            MODEL, MESSAGES, options=options, stream=True
        ).final(),
    }
    try:
        import openai
    except ImportError:
        return {"chat": chat, "stream (200 chunks)": stream}
    official = openai.OpenAI(base_url=base, api_key="k", max_retries=0)
    chat["openai " + openai.__version__] = lambda: official.chat.completions.create(
        model=MODEL, messages=MESSAGES, temperature=0.7
    )
    stream["openai " + openai.__version__] = lambda: list(
        official.chat.completions.create(
            model=MODEL, messages=MESSAGES, temperature=0.7, stream=True
        )
    )
    return {"chat": chat, "stream (200 chunks)": stream}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--block", type=int, default=10, help="calls in a row per round")
    args = parser.parse_args()
    proc, base = start_server()
    try:
        rows = bench_calls(args.rounds, args.block, base, contenders)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    print(f"qwenkit from {Path(qwenkit.__file__).parent}")
    print(f"client CPU and wall time per call: median of {args.rounds * args.block} calls each")
    print(f"{'case':<21} {'contender':<34} {'CPU':>9} {'ratio':>6} {'wall':>9} {'ratio':>6}  goal")
    for case, name, cpu, cpu_ratio, wall, wall_ratio in rows:
        goal = ""
        if case.startswith("stream") and name == "qwenkit.OpenAIClient":
            goal = f"≤ {GOAL}x {'met' if cpu_ratio <= GOAL else 'MISSED'}"
        print(
            f"{case:<21} {name:<34} {cpu:>6.0f} µs {cpu_ratio:>5.2f}x {wall:>6.0f} µs "
            f"{wall_ratio:>5.2f}x  {goal}"
        )


if __name__ == "__main__":
    main()
