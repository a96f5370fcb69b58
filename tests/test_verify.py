"""Verification: each check reads the server's answers and reports the numbers it saw."""

import json

import pytest

from qwenkit.errors import ModelNotFoundError, ResponseError
from qwenkit.modelfile import parse_show_parameters
from qwenkit.setup.verify import (
    ANSWER_TOKENS,
    KEPT_CHARS,
    PROBE_TOOL,
    ExpectedModel,
    check_config,
    check_json,
    check_loaded,
    check_tools,
    parameter_mismatches,
    run_checks,
)
from qwenkit.types import (
    ChatResponse,
    Function,
    ListModel,
    ListResponse,
    Message,
    ModelDetails,
    ProcessResponse,
    RunningModel,
    ShowResponse,
    ToolCall,
)

SHOW_PARAMETERS = "\n".join(
    [
        'stop                           "<|im_start|>"',
        "num_ctx                        65536",
        'stop                           "<|im_end|>"',
        "temperature                    0.7",
        "top_k                          20",
        "seed                           1e+06",
        "use_mmap                       false",
    ]
)

EXPECTED = ExpectedModel(
    name="qwenkit-chat",
    num_ctx=65536,
    system="You are helpful.",
    parameters={"temperature": 0.7, "top_k": 20, "stop": ["<|im_end|>", "<|im_start|>"]},
)


class StubServer:
    """Answers show/ps/chat from fixed values and records what it was asked."""

    def __init__(self, *, show=None, ps=(), chat=None, chat_error=None):
        self._show, self._ps, self._chat, self.chat_error = show, list(ps), chat, chat_error
        self.chats = []

    def show(self, model):
        if self._show is None:
            raise ResponseError(f"model '{model}' not found", 404)
        return self._show

    def ps(self):
        return ProcessResponse(models=self._ps)

    def list(self):
        """The loaded models as `/api/tags` lists them (the digest picks the ps entry)."""
        return ListResponse(
            models=[ListModel(name=m.name, model=m.model, digest=m.digest) for m in self._ps]
        )

    def chat(self, model, messages, **kwargs):
        self.chats.append((model, messages, kwargs))
        if self.chat_error:
            raise self.chat_error
        return self._chat or answer("OK")


def answer(content: str = "", *calls: ToolCall, done_reason: str = "stop") -> ChatResponse:
    """A chat reply as the client returns it."""
    message = Message(role="assistant", content=content, tool_calls=list(calls) or None)
    return ChatResponse(message=message, done=True, done_reason=done_reason, eval_count=9)


def running(name="qwenkit-chat:latest", size=6_000, vram=6_000, ctx=65536, digest="d1"):
    return RunningModel(
        name=name, model=name, size=size, size_vram=vram, context_length=ctx, digest=digest
    )


def test_parse_show_parameters_reads_go_syntax():
    params = parse_show_parameters(SHOW_PARAMETERS)
    assert params == {
        "stop": ["<|im_start|>", "<|im_end|>"],
        "num_ctx": 65536,
        "temperature": 0.7,
        "top_k": 20,
        "seed": 1_000_000.0,
        "use_mmap": False,
    }


def test_parse_show_parameters_handles_go_escapes_and_blanks():
    params = parse_show_parameters('stop                           "say \\"hi\\"\\n"\n\n')
    assert params == {"stop": ['say "hi"\n']}
    assert parse_show_parameters(None) == {}


def test_mismatches_ignore_stop_order_and_float_noise():
    observed = parse_show_parameters(SHOW_PARAMETERS)
    assert parameter_mismatches(EXPECTED.parameters, observed) == []
    assert parameter_mismatches({"seed": 1_000_000}, observed) == []
    assert parameter_mismatches({"temperature": 0.2}, observed) == [
        "temperature: expected 0.2, got 0.7"
    ]
    assert parameter_mismatches({"stop": ["<|im_end|>"]}, observed) != []


def test_config_check_passes_on_the_planned_values():
    server = StubServer(show=ShowResponse(parameters=SHOW_PARAMETERS, system="You are helpful.\n"))
    check = check_config(server, EXPECTED)
    assert check.status == "pass", check.detail
    assert check.data["num_ctx"] == 65536
    assert check.status == "pass"


def test_config_check_reports_each_difference():
    shown = ShowResponse(parameters=SHOW_PARAMETERS.replace("65536", "8192"), system="Other.")
    check = check_config(StubServer(show=shown), EXPECTED)
    assert check.status == "fail"
    assert "num_ctx: expected 65536, got 8192" in check.detail
    assert "system prompt differs" in check.detail
    assert check.to_dict()["status"] == "fail"


def test_config_check_fails_for_a_missing_model():
    check = check_config(StubServer(show=None), EXPECTED)
    assert check.status == "fail" and "not found" in check.detail


def test_clamp_is_caught_from_ps():
    server = StubServer(ps=[running(ctx=32768)])
    context, offload = check_loaded(server, EXPECTED)
    assert context.status == "fail"
    assert context.data == {"context_length": 32768, "planned": 65536}
    assert "clamped num_ctx from 65536 to 32768" in context.hint
    assert offload.status == "pass"
    # the warm-up chat loads the model without overriding its num_ctx
    (_, _, kwargs), *_ = server.chats
    assert "num_ctx" not in kwargs.get("options", {})


def test_partial_offload_fails_and_names_the_smaller_plan():
    server = StubServer(ps=[running(size=8_000, vram=6_000)])
    _, offload = check_loaded(server, EXPECTED, smaller_plan="q4_K_M at 16384")
    assert offload.status == "fail"
    assert "75% in VRAM" in offload.detail
    assert "q4_K_M at 16384" in offload.hint


@pytest.mark.parametrize(
    ("placement", "vram", "ok"), [("cpu", 0, True), ("partial", 3_000, True), ("partial", 0, False)]
)
def test_offload_expectation_follows_the_plan(placement, vram, ok):
    server = StubServer(ps=[running(size=8_000, vram=vram)])
    _, offload = check_loaded(server, EXPECTED, placement=placement)
    assert (offload.status == "pass") is ok


def test_old_server_without_context_length_is_skipped_not_failed():
    context, _ = check_loaded(StubServer(ps=[running(ctx=None)]), EXPECTED)
    assert context.status == "skip"


def test_model_missing_from_ps_fails_load():
    (check,) = check_loaded(StubServer(ps=[running(name="other:latest")]), EXPECTED)
    assert check.name == "load" and check.status == "fail"


def test_json_check():
    good = StubServer(chat=answer('{"ok": true}'))
    assert check_json(good, "qwenkit-json").status == "pass"
    assert good.chats[0][2] == {"format": "json", "options": {"num_predict": ANSWER_TOKENS}}
    bad = StubServer(chat=answer("Sure! Here it is"))
    check = check_json(bad, "qwenkit-json")
    assert check.status == "fail" and "not JSON" in check.detail
    listy = StubServer(chat=answer("[1, 2]"))
    assert check_json(listy, "qwenkit-json").status == "fail"


def test_an_unclosed_json_answer_is_reported_cut_and_clipped():
    endless = '{"ok": "' + "x" * 490_000
    check = check_json(StubServer(chat=answer(endless, done_reason="length")), "qwenkit-json")
    assert check.status == "fail"
    assert check.detail.startswith(f"cut at {ANSWER_TOKENS} tokens, JSON not closed")
    assert check.data["content"] == endless[:KEPT_CHARS] and check.data["chars"] == len(endless)
    assert check.data["done_reason"] == "length" and check.data["eval_count"] == 9
    assert len(json.dumps(check.to_dict())) < 2 * KEPT_CHARS


def test_tool_check():
    call = ToolCall(function=Function(name="get_current_time", arguments={"timezone": "UTC"}))
    good = StubServer(chat=answer("", call))
    check = check_tools(good, "qwenkit-agent")
    assert check.status == "pass" and check.data["tool_calls"] == ["get_current_time"]
    assert check.hint == ""
    assert good.chats[0][2] == {"tools": [PROBE_TOOL], "options": {"num_predict": ANSWER_TOKENS}}
    plain = StubServer(chat=answer("It is noon."))
    check = check_tools(plain, "qwenkit-agent")
    assert check.status == "fail" and "It is noon." in check.detail
    assert "TEMPLATE" in (check.hint or "")


def test_an_empty_tool_answer_blames_the_dropped_call_not_the_template():
    check = check_tools(StubServer(chat=answer("")), "qwenkit-agent")
    assert check.status == "fail" and "empty answer" in check.detail
    assert "not offered (offered: get_current_time)" in (check.hint or "")
    assert "TEMPLATE" not in (check.hint or "")
    cut = check_tools(StubServer(chat=answer("", done_reason="length")), "qwenkit-agent")
    assert f"within {ANSWER_TOKENS} tokens" in cut.detail


def test_request_errors_become_failed_checks():
    server = StubServer(chat_error=ResponseError("does not support tools", 400))
    assert check_tools(server, "m").status == "fail"
    assert check_json(server, "m").status == "fail"
    (load,) = check_loaded(server, EXPECTED)
    assert load.status == "fail" and "does not support tools" in load.detail


def test_run_checks_covers_every_model_then_one_of_each_runtime_check():
    shown = ShowResponse(parameters=SHOW_PARAMETERS, system="You are helpful.")
    server = StubServer(show=shown, ps=[running()])
    other = ExpectedModel("qwenkit-json", 65536, "You are helpful.", EXPECTED.parameters)
    checks = list(run_checks(server, [EXPECTED, other], json_model="qwenkit-json"))
    assert [(c.name, c.model) for c in checks] == [
        ("config", "qwenkit-chat"),
        ("config", "qwenkit-json"),
        ("context", "qwenkit-chat"),
        ("offload", "qwenkit-chat"),
        ("json", "qwenkit-json"),
        ("tools", "qwenkit-chat"),
    ]
    assert list(run_checks(server, [])) == []


def test_model_differences_cover_template_and_quantization():
    shown = ShowResponse(
        parameters=SHOW_PARAMETERS,
        system="You are helpful.",
        template="{{ .Prompt }}",
        details=ModelDetails(quantization_level="Q4_K_M"),
    )
    same = ExpectedModel(
        "m", 65536, "You are helpful.", EXPECTED.parameters, "{{ .Prompt }}\n", "q4_K_M"
    )
    from qwenkit.setup.verify import model_differences

    assert model_differences(shown, same) == []
    other = ExpectedModel("m", 65536, None, {}, "{{ .Messages }}", "q8_0")
    assert model_differences(shown, other) == [
        "template differs",
        "quantization: expected q8_0, got Q4_K_M",
    ]


def test_config_observed_counts_matching_parameters():
    shown = ShowResponse(
        parameters=SHOW_PARAMETERS.replace("top_k                          20", "top_k 1")
    )
    check = check_config(StubServer(show=shown), EXPECTED)
    assert check.detail.startswith("num_ctx 65536, 2/3 parameters")


def test_the_current_runner_is_read_not_a_stale_one_of_the_same_name():
    """Ollama 0.32 keeps the runner of a model re-created from another GGUF: /api/ps lists
    the name twice, and only the entry with the digest `/api/tags` has now counts."""
    stale, current = running(ctx=8192, digest="old"), running(ctx=65536, digest="new")
    server = StubServer(ps=[stale, current])
    tags = ListResponse(models=[ListModel(name=current.name, model=current.name, digest="new")])
    server.list = lambda: tags
    context, _ = check_loaded(server, ExpectedModel("qwenkit-chat", 65536), placement="cpu")
    assert context.status == "pass" and context.data["context_length"] == 65536


def test_a_runner_shared_with_an_identical_model_is_found_by_digest():
    """A copy (`/api/copy`) has the original's digest; ps lists their one runner under the
    name that loaded it."""
    shared = running(name="qwenkit-live-library:latest", ctx=4096, digest="same")
    server = StubServer(ps=[shared])
    tags = ListResponse(models=[ListModel(name="qwenkit-agent:latest", digest="same")])
    server.list = lambda: tags
    context, _ = check_loaded(server, ExpectedModel("qwenkit-agent", 4096), placement="cpu")
    assert context.status == "pass" and context.data["context_length"] == 4096


def blob(n: int) -> ShowResponse:
    """`/api/show` of a model made from blob number `n` (its `FROM` line names the blob)."""
    return ShowResponse(modelfile=f"# x\nFROM /m/blobs/sha256-{n:064x}\nSYSTEM s\n")


class SharedStub(StubServer):
    """`/api/tags` and `/api/show` per model: `models` maps name -> (digest, blob number)."""

    def __init__(self, models, **kwargs):
        super().__init__(**kwargs)
        self.models = models
        self.shown = []

    def list(self):
        entries = [ListModel(name=f"{n}:latest", digest=d) for n, (d, _) in self.models.items()]
        return ListResponse(models=entries)

    def show(self, model):
        self.shown.append(model)
        name = model.removesuffix(":latest")
        if name not in self.models:
            raise ModelNotFoundError(f"model '{model}' not found")
        return blob(self.models[name][1])


def test_a_model_recreated_from_the_same_blob_runs_in_the_runner_listed_with_its_old_digest():
    """Re-created with another system prompt and the same num_ctx, the model keeps its
    runner, which ps still lists with the digest the name had before (real 0.32.15)."""
    stale = running(ctx=65536, digest="before")
    server = SharedStub({"qwenkit-chat": ("after", 1)}, ps=[stale])
    context, _ = check_loaded(server, ExpectedModel("qwenkit-chat", 65536), placement="cpu")
    assert context.status == "pass" and context.data["context_length"] == 65536


def test_a_runner_of_other_weights_is_not_taken_for_the_model():
    other = running(name="other:latest", ctx=65536, digest="o")
    server = SharedStub({"other": ("o", 2), "qwenkit-chat": ("c", 1)}, ps=[other])
    [load] = check_loaded(server, ExpectedModel("qwenkit-chat", 65536), placement="cpu")
    assert load.status == "fail" and load.detail == "not listed by /api/ps after a chat"


def test_of_runners_with_unknown_weights_the_one_the_warm_up_renewed_counts():
    """ps sorts by whole seconds, so the entry expiring last may come second."""
    old = running(name="gone:latest", ctx=8192, digest="x")
    old.expires_at = "2026-12-02T23:08:59.9Z"
    renewed = running(ctx=65536, digest="y")
    renewed.expires_at = "2026-12-02T23:08:59.95Z"
    server = SharedStub({"qwenkit-chat": ("c", 1)}, ps=[old, renewed])
    context, _ = check_loaded(server, ExpectedModel("qwenkit-chat", 65536), placement="cpu")
    assert context.status == "pass" and context.data["context_length"] == 65536
