"""A `BenchResult` as text: the terminal table (80 columns), Markdown, and a comparison.

Pure functions returning lines; the CLI prints them. The seed table has the rows every
Qwen2.5-7B guide quotes, each with this machine's measured value and the limit beside it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from .ceiling import percent_of
from .result import BenchResult, Level
from .stats import Spread

GiB = 1 << 30


def _ms(seconds: float | None) -> str:
    """
    >>> _ms(0.8123), _ms(12.5), _ms(None)
    ('812 ms', '12.5 s', '-')
    """
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _tps(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _gib(n: float | None) -> str:
    return "-" if n is None else f"{n / GiB:.2f} GiB"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def seed_rows(r: BenchResult) -> list[tuple[str, str, str]]:
    """(row, measured, ceiling) in the order the guides print them."""
    single = r.single
    ttft = single.ttft.p50 if single else None
    ceiling = r.ceiling
    floor = ceiling.weights_bytes / (ceiling.bandwidth_gbps * 1e9) if ceiling else None
    speed = r.decode_tps
    pct = percent_of(speed, ceiling.tokens_per_s if ceiling else None)
    memory = r.memory
    return [
        ("Time to first token", _ms(ttft), f">= {_ms(floor)} (weights read once)"),
        (
            "Average output speed",
            f"{_tps(speed)} tokens/s" + (f" ({pct:.0f} %)" if pct is not None else ""),
            f"{_tps(ceiling.tokens_per_s)} tokens/s" if ceiling else "-",
        ),
        (
            "Max concurrent requests",
            f"{r.capacity} (target met)",
            f"{r.memory_ceiling} (memory)" if r.memory_ceiling else "-",
        ),
        (
            "Memory",
            f"{_gib(memory.size)} {memory.placement}" if memory else "-",
            f"{_gib(memory.planned)} planned" if memory and memory.planned else "-",
        ),
        ("CPU use during the run", _pct(r.cpu_percent), "100 % (all cores)"),
    ]


def biggest_gap(r: BenchResult) -> str:
    """One line: why this machine is furthest from its limit."""
    if r.memory is not None and r.memory.placement == "partial":
        share = r.memory.size_vram / r.memory.size
        return (
            f"only {share:.0%} of the model is in VRAM: the rest runs on the CPU; "
            "rerun `qwenkit setup` with a smaller --quant or --ctx"
        )
    if r.queueing is not None:
        return r.queueing.sentence()
    pct = percent_of(r.decode_tps, r.ceiling.tokens_per_s if r.ceiling else None)
    if pct is not None and pct > 105:
        return (
            f"decode measures {pct:.0f} % of the bandwidth limit, above it: the bandwidth "
            "figure is too low (pass --bandwidth GB/s) or the server's durations are off"
        )
    if pct is not None and pct < 50:
        return (
            f"decode reaches {pct:.0f} % of the bandwidth limit: time goes to compute or "
            "overheads, not to reading weights (small models and CPUs show this)"
        )
    top = max((lv.concurrency for lv in r.levels), default=0)
    if r.capacity < top:
        return (
            f"above {r.capacity} concurrent request(s) the target ({r.target.describe()}) is missed"
        )
    if pct is not None:
        return f"decode runs at {pct:.0f} % of the bandwidth limit: close to what it can do"
    return r.ceiling_note or "no limit known to compare with"


def _spread(s: Spread, fmt: Callable[[float | None], str]) -> str:
    return f"{fmt(s.p50)} / {fmt(s.p90)} / {fmt(s.p99)}"


def _level_row(lv: Level) -> str:
    t, i = lv.ttft, lv.itl
    return (
        f"{lv.concurrency:>5} {_tps(lv.aggregate_tps):>8} {_tps(lv.speed.p50):>7} "
        f"{_num_ms(t.p50):>7} {_num_ms(t.p90):>7} {_num_ms(t.p99):>7} "
        f"{_num_ms(i.p50):>6} {_num_ms(i.p99):>6} {lv.errors:>4} {lv.meeting_target:>5.0%}"
    )


def _num_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


SWEEP_HEAD = (
    " conc  agg t/s  req t/s TTFT50  TTFT90  TTFT99  ITL50  ITL99  err   met",
    "                 (p50)   (ms)    (ms)    (ms)   (ms)   (ms)           ",
)


def single_lines(r: BenchResult) -> list[str]:
    """Single user: server-side (Ollama's durations) next to client-side times."""
    single = r.single
    if single is None:
        return []
    prefill = Spread.of(v for s in single.ok if (v := s.server_prefill) is not None).mean
    server = Spread.of(v for s in single.ok if (v := s.server_decode) is not None).mean
    load = "-" if r.load_s is None else _ms(r.load_s)
    state = {True: " (was loaded: warm)", False: " (cold)", None: ""}[r.was_loaded]
    lines = [
        "single user                    server side      client side",
        f"  load time                    {load + state:<16} -",
        f"  time to first token          {'-':<16} {_spread(single.ttft, _ms)}",
        f"  prefill tokens/s             {_tps(prefill):<16} -",
        f"  decode tokens/s              {_tps(server):<16} {_tps(single.speed.mean)}",
        f"  inter-token p50/p90/p99      {'-':<16} {_spread(single.itl, _ms)}",
    ]
    if r.api != "ollama":
        lines.append("  (OpenAI-compatible server: client-side timings only)")
    return lines


def terminal_lines(r: BenchResult) -> list[str]:
    """The whole report for an 80-column terminal."""
    lines = [f"qwenkit bench: {r.model} at {r.host} ({r.api})", ""]
    lines += [f"{'':24}{'measured':<26}ceiling"]
    lines += [f"{row:<24}{measured:<26}{limit}" for row, measured, limit in seed_rows(r)]
    lines += ["", *single_lines(r), "", *SWEEP_HEAD]
    lines += [_level_row(lv) for lv in r.levels]
    lines += ["", f"capacity: {r.capacity} concurrent request(s) at {r.target.describe()}"]
    lines += _limit_lines(r)
    lines.append(f"biggest gap: {biggest_gap(r)}")
    lines += [f"note: {n}" for n in r.notes]
    return [part for line in lines for part in _wrap(line)]


def _wrap(line: str, width: int = 80) -> list[str]:
    """Long sentences wrap with an indent; tables are already narrow."""
    return textwrap.wrap(line, width, subsequent_indent="  ") if len(line) > width else [line]


def _limit_lines(r: BenchResult) -> list[str]:
    lines = []
    if r.ceiling is not None:
        c = r.ceiling
        lines.append(
            f"ceiling: {c.bandwidth_gbps:.0f} GB/s ({c.bandwidth_source}) / "
            f"{c.bytes_per_token / 1e9:.2f} GB per token = {c.tokens_per_s:.1f} tokens/s"
        )
    elif r.ceiling_note:
        lines.append(f"ceiling: {r.ceiling_note}")
    if r.queueing is not None:
        lines.append(f"queueing: {r.queueing.sentence()}")
    if r.memory is not None and r.memory.note:
        lines.append(f"memory: {r.memory.note}")
    if r.long is not None:
        s = r.long
        lines.append(
            f"long prompt: {s.prompt_tokens or '?'} tokens, first token after "
            f"{_ms(s.ttft)}, answer done after {_ms((s.end or 0) - s.start)}, "
            f"prefill {_tps(s.server_prefill)} tokens/s"
        )
    return lines


def markdown(r: BenchResult) -> str:
    """A report ready to paste: the seed table, the sweep, the findings."""
    out = [
        f"## qwenkit bench: `{r.model}`",
        "",
        f"Server `{r.host}` ({r.api}); prompt ~{r.settings['prompt_tokens']} tokens, "
        f"answer {r.settings['output_tokens']} tokens.",
        "",
        "| | measured | ceiling |",
        "| --- | --- | --- |",
    ]
    out += [f"| {row} | {m} | {c} |" for row, m, c in seed_rows(r)]
    out += ["", "```", *single_lines(r), "```", ""]
    out += [
        "| concurrency | aggregate tokens/s | tokens/s per request (p50) | TTFT p50 / p90 / p99 "
        "| ITL p50 / p90 / p99 | errors | met target |",
        "| ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for lv in r.levels:
        out.append(
            f"| {lv.concurrency} | {_tps(lv.aggregate_tps)} | {_tps(lv.speed.p50)} | "
            f"{_spread(lv.ttft, _ms)} | {_spread(lv.itl, _ms)} | {lv.errors} | "
            f"{lv.meeting_target:.0%} |"
        )
    out += ["", f"- capacity: {r.capacity} concurrent request(s) at {r.target.describe()}"]
    out += [f"- {line}" for line in _limit_lines(r)]
    out.append(f"- biggest gap: {biggest_gap(r)}")
    out += [f"- note: {n}" for n in r.notes]
    return "\n".join(out) + "\n"


def _figures(r: BenchResult) -> list[tuple[str, float | None]]:
    single = r.single
    top = max(r.levels, key=lambda lv: lv.aggregate_tps or 0.0, default=None)
    return [
        ("TTFT p50, 1 user (s)", single.ttft.p50 if single else None),
        ("decode tokens/s, 1 user", r.decode_tps),
        ("ITL p50, 1 user (s)", single.itl.p50 if single else None),
        ("best aggregate tokens/s", top.aggregate_tps if top else None),
        ("capacity (requests)", float(r.capacity)),
        ("memory (GiB)", r.memory.size / GiB if r.memory else None),
        ("CPU use (%)", r.cpu_percent),
    ]


def compare_lines(before: BenchResult, after: BenchResult) -> list[str]:
    """Two runs side by side; the ratio is this run over the earlier one."""
    lines = [
        f"{'':26}{'earlier':>12}{'this run':>12}{'ratio':>9}",
        f"{'':26}{before.model[:11]:>12}{after.model[:11]:>12}",
    ]
    for (name, old), (_, new) in zip(_figures(before), _figures(after), strict=True):
        ratio = f"{new / old:.2f}x" if old and new is not None else "-"
        lines.append(f"{name:<26}{_fig(old):>12}{_fig(new):>12}{ratio:>9}")
    return lines


def _fig(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


__all__ = ["biggest_gap", "compare_lines", "markdown", "seed_rows", "terminal_lines"]
