"""`python -m tests.fake_openai [--port N] [--api-key K] [--name NAME]...`: serve until killed."""

from __future__ import annotations

import argparse
import sys
import time

from .server import FakeOpenAI


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key")
    ap.add_argument("--name", action="append", help="served model name (repeatable)")
    args = ap.parse_args()
    names = tuple(args.name or ("qwen2.5-7b-instruct",))
    fake = FakeOpenAI(names, api_key=args.api_key, port=args.port).start()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
