"""The typed result of `qwenkit.bench.run`: every sample, and the figures made from them.

Times are seconds. Client-side times are what a user feels (from sending the request);
server-side ones are Ollama's own durations, exact and free of network and queueing.
`BenchResult.to_dict()` is the `--json` document and `from_dict` reads it back for
`--compare`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .ceiling import Ceiling, percent_of
from .stats import Spread, Target, busy_share, peak_overlap, rate, share_meeting

NS = 1e9


@dataclass
class Sample:
    """One request. `start`, `first_token`, `last_token`, `end` are seconds from the run's
    start; `itl` holds the gaps between streamed pieces of text."""

    concurrency: int
    start: float
    prompt_words: int
    first_token: float | None = None
    last_token: float | None = None
    end: float | None = None
    itl: list[float] = field(default_factory=list)
    chunks: int = 0
    output_tokens: int | None = None  # Ollama's eval_count / OpenAI usage
    prompt_tokens: int | None = None
    load_s: float | None = None  # Ollama only, from here on
    prompt_eval_s: float | None = None
    eval_s: float | None = None
    total_s: float | None = None
    error: str | None = None

    @property
    def ttft(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.start

    @property
    def tokens(self) -> int:
        """Output tokens: the server's count, else one per streamed piece."""
        return self.output_tokens if self.output_tokens is not None else self.chunks

    @property
    def speed(self) -> float | None:
        """Client-side output tokens/s after the first token (what a reader sees)."""
        if self.first_token is None or self.last_token is None or self.tokens < 2:
            return None
        return rate(self.tokens - 1, self.last_token - self.first_token)

    @property
    def server_decode(self) -> float | None:
        return rate(self.output_tokens or 0, self.eval_s)

    @property
    def server_prefill(self) -> float | None:
        return rate(self.prompt_tokens or 0, self.prompt_eval_s)

    @property
    def decoding(self) -> tuple[float, float] | None:
        if self.first_token is None or self.last_token is None:
            return None
        return (self.first_token, self.last_token)

    def since(self, origin: float) -> Sample:
        """The same sample with its clock readings counted from `origin` (endpoints read
        the raw monotonic clock, once a token; gaps need no shift)."""
        self.start -= origin
        for name in ("first_token", "last_token", "end"):
            if (at := getattr(self, name)) is not None:
                setattr(self, name, at - origin)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ttft": self.ttft, "speed": self.speed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Level:
    """All requests sent at one concurrency, and what they add up to."""

    concurrency: int
    samples: list[Sample]
    target: Target = field(default_factory=Target)

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    @property
    def errors(self) -> int:
        return len(self.samples) - len(self.ok)

    @property
    def span(self) -> float:
        """From the first request sent to the last answer finished."""
        ends = [s.end for s in self.samples if s.end is not None]
        return max(ends) - min(s.start for s in self.samples) if ends else 0.0

    @property
    def aggregate_tps(self) -> float | None:
        return rate(sum(s.tokens for s in self.ok), self.span)

    @property
    def ttft(self) -> Spread:
        return Spread.of(t for s in self.ok if (t := s.ttft) is not None)

    @property
    def itl(self) -> Spread:
        return Spread.of(gap for s in self.ok for gap in s.itl)

    @property
    def speed(self) -> Spread:
        return Spread.of(v for s in self.ok if (v := s.speed) is not None)

    @property
    def meeting_target(self) -> float:
        return share_meeting(self.target, [(s.ttft, s.speed) for s in self.samples])

    @property
    def served(self) -> int:
        """The most answers the server streamed at the same time."""
        return peak_overlap(d for s in self.ok if (d := s.decoding) is not None)

    @property
    def mean_in_progress(self) -> float:
        return busy_share([d for s in self.ok if (d := s.decoding) is not None], self.span)

    def to_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "requests": len(self.samples),
            "errors": self.errors,
            "seconds": self.span,
            "aggregate_tokens_per_s": self.aggregate_tps,
            "tokens_per_s": self.speed.to_dict(),
            "ttft_s": self.ttft.to_dict(),
            "itl_s": self.itl.to_dict(),
            "meeting_target": self.meeting_target,
            "served_at_once": self.served,
            "samples": [s.to_dict() for s in self.samples],
        }


@dataclass(frozen=True)
class Memory:
    """What `/api/ps` says the loaded model takes, next to the planner's estimate."""

    size: int
    size_vram: int
    context_length: int | None
    planned: int | None  # the planner's estimate for the same tag and context
    note: str = ""

    @property
    def placement(self) -> str:
        """ "gpu", "partial" (some layers on the CPU: slow) or "cpu"."""
        if self.size_vram <= 0:
            return "cpu"
        return "gpu" if self.size_vram >= self.size else "partial"

    @property
    def vs_plan(self) -> float | None:
        """Measured over planned, in percent."""
        return percent_of(self.size, self.planned)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "placement": self.placement, "percent_of_plan": self.vs_plan}


@dataclass(frozen=True)
class Queueing:
    """The server answered fewer requests at once than were sent."""

    sent: int
    served: int
    setting: str  # e.g. "OLLAMA_NUM_PARALLEL=4"
    extra_bytes: int | None  # the planner's estimate of what that setting costs
    fits: bool | None

    def sentence(self) -> str:
        cost = ""
        if self.extra_bytes is not None:
            cost = f" (the planner estimates {self.extra_bytes / (1 << 30):.1f} GiB more memory"
            cost += ")" if self.fits is not False else ", more than this machine has)"
        return (
            f"the server works on {self.served} request(s) at a time while {self.sent} were "
            f"sent: set {self.setting}{cost}"
        )


@dataclass
class BenchResult:
    """Everything `qwenkit bench` measured; see the README's `qwenkit bench` section."""

    model: str
    host: str
    api: str  # "ollama" or "openai"
    settings: dict[str, Any]
    levels: list[Level]
    load_s: float | None = None  # the first request's load_duration
    was_loaded: bool | None = None  # was the model already in memory at the start?
    ceiling: Ceiling | None = None
    ceiling_note: str = ""
    memory: Memory | None = None
    memory_ceiling: int | None = None  # most parallel slots the planner fits
    queueing: Queueing | None = None
    cpu_percent: float | None = None
    client_cpu_s: float | None = None
    long: Sample | None = None
    target: Target = field(default_factory=Target)
    notes: list[str] = field(default_factory=list)

    @property
    def single(self) -> Level | None:
        return next((lv for lv in self.levels if lv.concurrency == 1), None)

    @property
    def capacity(self) -> int:
        from .stats import capacity

        return capacity([(lv.concurrency, lv.meeting_target) for lv in self.levels], self.target)

    @property
    def decode_tps(self) -> float | None:
        """Single-user decode speed: Ollama's own figure, else the client-side one."""
        single = self.single
        if single is None:
            return None
        server = Spread.of(v for s in single.ok if (v := s.server_decode) is not None)
        return server.mean if server.mean is not None else single.speed.mean

    @property
    def tokens_streamed(self) -> int:
        return sum(s.tokens for lv in self.levels for s in lv.ok)

    def to_dict(self) -> dict[str, Any]:
        single = self.single
        return {
            "model": self.model,
            "host": self.host,
            "api": self.api,
            "settings": self.settings,
            "target": asdict(self.target),
            "single_user": _single_dict(single, self.load_s, self.was_loaded),
            "capacity": self.capacity,
            "queueing": asdict(self.queueing) if self.queueing else None,
            "ceiling": self.ceiling.to_dict() if self.ceiling else None,
            "ceiling_note": self.ceiling_note,
            "percent_of_ceiling": percent_of(
                self.decode_tps, self.ceiling.tokens_per_s if self.ceiling else None
            ),
            "memory": self.memory.to_dict() if self.memory else None,
            "memory_ceiling_parallel": self.memory_ceiling,
            "cpu_percent": self.cpu_percent,
            "client_cpu_s": self.client_cpu_s,
            "client_cpu_s_per_token": rate(self.client_cpu_s or 0, self.tokens_streamed or None),
            "long": self.long.to_dict() if self.long else None,
            "levels": [lv.to_dict() for lv in self.levels],
            "notes": self.notes,
        }


def _single_dict(single: Level | None, load_s: float | None, warm: bool | None) -> dict[str, Any]:
    if single is None:
        return {}
    server_prefill = Spread.of(v for s in single.ok if (v := s.server_prefill) is not None)
    server_decode = Spread.of(v for s in single.ok if (v := s.server_decode) is not None)
    return {
        "load_s": load_s,
        "was_loaded": warm,
        "ttft_s": single.ttft.to_dict(),
        "prefill_tokens_per_s_server": server_prefill.mean,
        "decode_tokens_per_s_server": server_decode.mean,
        "decode_tokens_per_s_client": single.speed.mean,
        "itl_s": single.itl.to_dict(),
    }


def result_from_dict(data: dict[str, Any]) -> BenchResult:
    """A `--json` document back as a `BenchResult` (for `--compare`)."""
    target = Target(**data.get("target") or {})
    levels = [
        Level(lv["concurrency"], [Sample.from_dict(s) for s in lv.get("samples", [])], target)
        for lv in data.get("levels", [])
    ]
    ceiling = data.get("ceiling")
    memory = data.get("memory")
    single = data.get("single_user") or {}
    long = data.get("long")
    return BenchResult(
        model=data.get("model", "?"),
        host=data.get("host", "?"),
        api=data.get("api", "ollama"),
        settings=data.get("settings") or {},
        levels=levels,
        load_s=single.get("load_s"),
        was_loaded=single.get("was_loaded"),
        ceiling=Ceiling(**{k: ceiling[k] for k in Ceiling.__dataclass_fields__})
        if ceiling
        else None,
        ceiling_note=data.get("ceiling_note", ""),
        memory=Memory(**{k: memory[k] for k in Memory.__dataclass_fields__}) if memory else None,
        memory_ceiling=data.get("memory_ceiling_parallel"),
        queueing=Queueing(**data["queueing"]) if data.get("queueing") else None,
        cpu_percent=data.get("cpu_percent"),
        client_cpu_s=data.get("client_cpu_s"),
        long=Sample.from_dict(long) if long else None,
        target=target,
        notes=list(data.get("notes") or []),
    )


__all__ = ["BenchResult", "Level", "Memory", "Queueing", "Sample", "result_from_dict"]
