"""Pull with aggregate progress, back-off retries that resume, and Ollama's own errors."""

import pytest

from qwenkit._common.disk import DISK_MARGIN
from qwenkit._common.names import model_present
from qwenkit._common.retry import RetryPolicy
from qwenkit.errors import (
    OllamaTimeoutError,
    OllamaUnavailableError,
    ProtocolError,
    ResponseError,
    SetupError,
)
from qwenkit.setup.pull import (
    PullDone,
    PullProgress,
    PullRetry,
    PullStatus,
    PullTracker,
    check_disk_space,
    pull_model,
)
from qwenkit.types import ProgressResponse

BIG = "sha256:" + "a" * 64
SMALL = "sha256:" + "b" * 64
MODEL = "qwen2.5:7b-instruct-q4_K_M"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ScriptedPuller:
    """Each call to pull() plays the next script: a list of lines, then maybe an exception.

    Like Ollama, a layer's bytes survive a broken attempt, so each script continues.
    """

    def __init__(self, clock, scripts):
        self.clock = clock
        self.scripts = list(scripts)
        self.calls = 0

    def pull(self, model, *, stream=True):
        assert stream is True
        self.calls += 1
        lines, error = self.scripts.pop(0)
        for line in lines:
            self.clock.now += 1.0
            yield ProgressResponse.model_validate(line)
        if error is not None:
            raise error


def layer(digest, total, completed):
    return {
        "status": f"pulling {digest[7:19]}",
        "digest": digest,
        "total": total,
        "completed": completed,
    }


def run(puller, clock, **kw):
    sleeps = []
    events = list(pull_model(puller, MODEL, sleep=sleeps.append, clock=clock, **kw))
    return events, sleeps


def test_progress_is_summed_over_layers_with_rate_and_eta():
    clock = Clock()
    script = [
        {"status": "pulling manifest"},
        layer(BIG, 1000, 0),
        layer(BIG, 1000, 400),
        layer(BIG, 1000, 1000),
        layer(SMALL, 100, 100),
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    events, sleeps = run(ScriptedPuller(clock, [(script, None)]), clock)
    progress = [e for e in events if isinstance(e, PullProgress)]
    assert [(p.completed, p.total) for p in progress] == [
        (0, 1000),
        (400, 1000),
        (1000, 1000),
        (1100, 1100),
    ]
    assert progress[1].rate == pytest.approx(400.0)  # 400 bytes in one tick of the clock
    assert progress[1].eta == pytest.approx(600 / 400)
    statuses = [e.status for e in events if isinstance(e, PullStatus)]
    assert statuses == [
        "pulling manifest",
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    assert isinstance(events[-1], PullDone) and events[-1].total == 1100
    assert sleeps == []


def test_dropped_connection_is_retried_and_resumes():
    clock = Clock()
    first = ([layer(BIG, 1000, 100), layer(BIG, 1000, 500)], OllamaUnavailableError("h"))
    second = ([layer(BIG, 1000, 500), layer(BIG, 1000, 1000), {"status": "success"}], None)
    puller = ScriptedPuller(clock, [first, second])
    events, sleeps = run(puller, clock, policy=RetryPolicy(attempts=3, base_delay=2.0))
    retries = [e for e in events if isinstance(e, PullRetry)]
    assert len(retries) == 1 and "connection lost" in retries[0].reason
    assert sleeps == [2.0]
    assert puller.calls == 2
    final = [e for e in events if isinstance(e, PullProgress)][-1]
    assert (final.completed, final.total) == (1000, 1000)
    assert isinstance(events[-1], PullDone)


def test_stall_backs_off_exponentially_then_gives_up_with_resume_hint():
    clock = Clock()
    stalled = ([], OllamaTimeoutError("h", phase="read", timeout=5))
    puller = ScriptedPuller(clock, [stalled] * 4)
    sleeps = []
    with pytest.raises(SetupError) as info:
        for _ in pull_model(
            puller, MODEL, policy=RetryPolicy(attempts=4), sleep=sleeps.append, clock=clock
        ):
            pass
    assert sleeps == [1.0, 2.0, 4.0]
    assert puller.calls == 4
    assert info.value.step == "pull"
    assert "stalled" in str(info.value)
    assert "rerun the same command" in info.value.hint


def test_progress_between_failures_resets_the_back_off():
    clock = Clock()
    scripts = [
        ([layer(BIG, 1000, 100)], ProtocolError("cut")),
        ([layer(BIG, 1000, 300)], ProtocolError("cut")),
        ([layer(BIG, 1000, 600)], ProtocolError("cut")),
        ([layer(BIG, 1000, 1000)], None),
    ]
    events, sleeps = run(ScriptedPuller(clock, scripts), clock, policy=RetryPolicy(attempts=2))
    assert sleeps == [1.0, 1.0, 1.0]
    assert isinstance(events[-1], PullDone)


def test_error_line_stops_with_ollamas_message_and_no_retry():
    clock = Clock()
    refused = ResponseError("pull model manifest: file does not exist", 200)
    puller = ScriptedPuller(clock, [([{"status": "pulling manifest"}], refused)])
    with pytest.raises(SetupError) as info:
        list(pull_model(puller, MODEL, sleep=lambda s: None, clock=clock))
    assert "pull model manifest: file does not exist" in str(info.value)
    assert "no tag" in info.value.hint
    assert puller.calls == 1


def test_tracker_never_goes_backwards_and_clamps_to_total():
    tracker = PullTracker(clock=Clock())
    tracker.feed(BIG, 100, 80)
    tracker.feed(BIG, 100, 20)
    tracker.feed(SMALL, 10, 50)
    assert (tracker.completed, tracker.total) == (90, 110)
    assert tracker.eta() is None  # one clock instant: no rate yet


def test_model_present_matches_ollama_naming():
    names = ["qwenkit-chat:latest", "qwen2.5:7b-instruct-q4_K_M"]
    assert model_present(names, MODEL)
    assert model_present(names, "qwenkit-chat")
    assert not model_present(names, "qwen2.5:7b-instruct-q8_0")


def test_disk_check_refuses_before_pulling():
    check_disk_space(None, 5 << 30, model=MODEL)
    check_disk_space((5 << 30) + DISK_MARGIN, 5 << 30, model=MODEL)
    with pytest.raises(SetupError) as info:
        check_disk_space(2 << 30, 5 << 30, model=MODEL)
    assert "2.0 GiB" in str(info.value) and "5.5 GiB" in str(info.value)
    assert "--quant" in info.value.hint
