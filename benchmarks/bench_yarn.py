"""Benchmark: YaRN-extending a 1 GB synthetic qwen2 GGUF, against a plain file copy.

Builds the file in a temporary directory (deleted afterwards) with the real Qwen2.5 vocabulary
size (152,064 tokens, ~152k merges) so the header costs what the real one does. Each
measurement runs in its own child process, which reports its own peak RSS (Linux `VmHWM`,
else `getrusage(RUSAGE_SELF).ru_maxrss`); runs alternate between `shutil.copyfile` and
`extend_context`, each timed until its output is fsynced (disk speed, not page-cache speed),
and the medians are compared in this one run, so the figure is a ratio on this
machine, not an absolute speed. Last, the header alone is read once with the stock
`gguf.GGUFReader` and once with qwenkit's compact reader, to show why the latter exists.

    python benchmarks/bench_yarn.py [--size-mb 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RSS_LIMIT_MB = 200


def child(mode: str, src: str, dst: str) -> None:
    """Run one copy in this process and print its time and peak RSS as JSON."""
    start = time.perf_counter()
    if mode in HEADER_MODES:  # reading the header only: stock GGUFReader vs qwenkit's
        HEADER_MODES[mode](src)
        print(json.dumps({"mode": mode, "seconds": time.perf_counter() - start,
                          "peak_rss_mb": peak_rss_kb() / 1024}))  # fmt: skip
        return
    if mode == "copy":
        import shutil

        shutil.copyfile(src, dst)
    else:
        from qwenkit.longctx.yarn import extend_context

        extend_context(src, dst, overwrite=True)
    fd = os.open(dst, os.O_RDONLY)  # time the bytes reaching the disk, not the page cache
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - start
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_rss_mb": peak_rss_kb() / 1024}))


def _stock_reader(src: str) -> None:
    from gguf import GGUFReader

    GGUFReader(src)


def _qwenkit_header(src: str) -> None:
    from qwenkit.longctx._gguf_header import read_header

    read_header(Path(src))


HEADER_MODES = {"gguf.GGUFReader": _stock_reader, "qwenkit header": _qwenkit_header}


def peak_rss_kb() -> int:
    """This process's peak RSS. Linux's VmHWM belongs to the current program image; ru_maxrss
    survives exec, so it would report the parent's peak at fork time."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(mode: str, src: Path, dst: Path) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", mode, str(src), str(dst)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    dst.unlink(missing_ok=True)
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def build(path: Path, size_mb: int) -> float:
    """Write the synthetic file in a child, so this parent stays small."""
    code = (
        "import sys; from pathlib import Path; from tests.gguf_factory import *; "
        "make_qwen2_gguf(Path(sys.argv[1]), vocab_size=152064, "
        f"tensors=big_tensors({size_mb} << 20))"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qwenkit-bench-") as tmp:
        src, dst = Path(tmp) / "base.gguf", Path(tmp) / "out.gguf"
        built = build(src, opts.size_mb)
        size = src.stat().st_size
        print(f"built {size / 2**20:.0f} MiB synthetic qwen2 GGUF in {built:.1f}s")
        runs: dict[str, list[dict[str, float]]] = {"copy": [], "extend": []}
        for _ in range(opts.rounds):
            for mode in ("copy", "extend"):
                runs[mode].append(measure(mode, src, dst))
        headers = [measure(mode, src, dst) for mode in HEADER_MODES]
    report(runs, size)
    for one in headers:
        print(f"header only, {one['mode']}: {one['seconds']:.2f}s, "
              f"peak RSS {one['peak_rss_mb']:.0f} MB")  # fmt: skip


def report(runs: dict[str, list[dict[str, float]]], size: int) -> None:
    secs = {mode: statistics.median(r["seconds"] for r in rs) for mode, rs in runs.items()}
    peak = {mode: max(r["peak_rss_mb"] for r in rs) for mode, rs in runs.items()}
    for mode in ("copy", "extend"):
        rate = size / secs[mode] / 2**20
        line = f"{mode:>7}: median {secs[mode]:.2f}s  {rate:,.0f} MiB/s"
        print(f"{line}  peak RSS {peak[mode]:.0f} MB")
    ratio = secs["copy"] / secs["extend"]
    print(f"extend throughput / shutil.copyfile throughput = {ratio:.2f}")
    verdict = "OK" if peak["extend"] < RSS_LIMIT_MB else "OVER LIMIT"
    print(f"extend peak RSS {peak['extend']:.0f} MB (limit {RSS_LIMIT_MB} MB): {verdict}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
