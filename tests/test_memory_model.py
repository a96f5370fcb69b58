"""The memory model against what a real Ollama v0.32.15 allocated (CPU backend, llama.cpp b10488).

Every number below was read from a real server's log or `/api/ps`, loading a GGUF with
Qwen2.5-7B-Instruct's shapes and q4_K_M's tensor types (zero weights):

* `API_PS`: `hardware-fit.md` §9 — Ollama chose the batch itself (1024 up to 32K, 2048 above);
* `COMPUTE`: llama-server started with Ollama's arguments (`-c N -np P --flash-attn on|off
  -b U -ub U [--cache-type-k/v T]`), its `sched_reserve: CPU compute buffer size` line.

The tests pin the model to these points; they do not restate its formula.
"""

from __future__ import annotations

import pytest

from qwenkit.hardware import GPU, HardwareProfile
from qwenkit.planner import _memory, plan
from qwenkit.planner._server import physical_batch, server_facts

MiB = 1 << 20
GiB = 1 << 30

# (num_ctx, flash attention, KV type, ubatch) → "CPU compute buffer size" in MiB
COMPUTE = [
    (2048, True, "f16", 512, 141.01),
    (4096, True, "f16", 512, 143.01),
    (8192, True, "f16", 512, 147.01),
    (16384, True, "f16", 512, 155.01),
    (32768, True, "f16", 512, 171.01),
    (8192, True, "f16", 256, 73.51),
    (8192, True, "f16", 1024, 294.02),
    (8192, True, "f16", 2048, 588.05),
    (8000, True, "f16", 512, 147.01),  # padded to 8192 cells
    (8192, True, "q8_0", 512, 140.09),
    (32768, True, "q8_0", 512, 164.09),
    (8192, True, "q8_0", 1024, 280.10),
    (8192, True, "q4_0", 512, 140.09),
    (32768, True, "q4_0", 1024, 328.10),
    (2048, False, "f16", 512, 153.01),
    (4096, False, "f16", 512, 269.01),
    (8192, False, "f16", 512, 501.01),
    (8192, False, "f16", 1024, 1002.02),
    (65536, False, "f16", 512, 3749.01),
]


@pytest.mark.parametrize(("ctx", "flash", "kv", "ubatch", "real_mib"), COMPUTE)
def test_compute_buffer_matches_llama_server(ctx, flash, kv, ubatch, real_mib):
    got = _memory.compute_bytes(ctx, flash_attention=flash, kv_cache_type=kv, ubatch=ubatch)
    assert got / MiB == pytest.approx(real_mib, abs=0.15)


def test_compute_without_flash_attention_at_1k_errs_on_the_safe_side():
    got = _memory.compute_bytes(1024, flash_attention=False) / MiB
    assert 136.01 <= got <= 136.01 * 1.05  # measured 136.01 MiB


def test_parallel_slots_share_one_compute_buffer_but_not_the_kv_cache():
    # -c 16384 -np 2: KV 896 MiB, compute 147.01 MiB (each stream attends to its own 8192 cells)
    assert _memory.kv_cache_bytes(8192, parallel=2) == 896 * MiB
    assert _memory.estimate("q4_K_M", 8192, parallel=2, ubatch=512).compute_bytes == (
        _memory.estimate("q4_K_M", 8192, ubatch=512).compute_bytes + _memory.output_bytes()
    )


@pytest.mark.parametrize(
    ("ctx", "kv", "real_mib"),
    [
        *[(8192, "f16", 448), (32768, "f16", 1792), (131072, "f16", 7168), (8000, "f16", 448)],
        *[(8192, "q8_0", 238), (32768, "q8_0", 952), (8192, "q4_0", 126), (32768, "q4_0", 504)],
    ],
)
def test_kv_buffer_matches_llama_server(ctx, kv, real_mib):
    assert _memory.kv_cache_bytes(ctx, kv_cache_type=kv) == real_mib * MiB


# hardware-fit.md §9: /api/ps `size` with the server configured by env as the plan says.
API_PS = [
    # num_ctx, allow flash attention, KV type, /api/ps size in GiB
    (8192, True, "f16", 5.08),
    (32768, True, "f16", 6.44),
    (131072, True, "f16", 12.40),  # the YaRN GGUF
    (8192, False, "f16", 5.77),
    (32768, False, "f16", 9.80),
    (8192, True, "q8_0", 4.86),
    (32768, True, "q8_0", 5.61),
]


def this_machine(version: str | None = "0.32.15") -> HardwareProfile:
    """The 2-core, 24 GiB CPU box the measurements come from."""
    return HardwareProfile(
        ram_total_bytes=24 * GiB,
        ram_available_bytes=22 * GiB,
        disk_free_bytes=70 * GiB,
        ollama_version=version,
    )


@pytest.mark.parametrize(("ctx", "flash", "kv", "real_gib"), API_PS)
def test_plans_predict_api_ps_size_within_2_percent(ctx, flash, kv, real_gib):
    chosen = plan(
        this_machine(),
        target_ctx=ctx,
        quant="q4_K_M",
        allow_flash_attention=flash,
        allow_kv_quant=kv != "f16",
    )
    if kv != "f16":  # the planner only quantizes the cache when f16 does not fit; force it
        chosen = _forced_kv(ctx, kv)
    else:
        assert (chosen.flash_attention, chosen.kv_cache_type, chosen.num_ctx) == (flash, kv, ctx)
        assert chosen.server_env["OLLAMA_FLASH_ATTENTION"] == ("1" if flash else "0")
    predicted = chosen.estimate.model_bytes / GiB
    assert real_gib * 0.995 <= predicted <= real_gib * 1.02, (predicted, real_gib)


def _forced_kv(ctx: int, kv: str):
    from qwenkit.planner._fit import Candidate, Settings
    from qwenkit.planner._plan import _build, _resolve

    req = _resolve(this_machine(), ctx, "q4_K_M", 1, True, True, False)
    return _build(this_machine(), req, Candidate("q4_K_M", ctx, Settings(True, kv), "test"), "cpu")


def test_the_old_estimate_missed_32k_by_23_percent_and_this_one_does_not():
    # the table: predicted 7.94 GiB for a real 6.44 GiB (f16 KV, flash attention auto)
    chosen = plan(this_machine(), target_ctx=32768, quant="q4_K_M")
    assert abs(chosen.estimate.model_bytes / GiB - 6.44) / 6.44 < 0.01


# -- the physical batch Ollama picks (server/sched.go automaticGenerationBatch) ------------


def test_ollama_032_batch_follows_the_context_on_a_cpu():
    facts = server_facts("0.32.15")
    got = [
        physical_batch(facts, c, 1, weights_bytes=4 * GiB, gpu_free_bytes=0, flash_attention=f)
        for c, f in [(4096, True), (4097, True), (32768, True), (32769, True), (8192, False)]
    ]
    assert got == [512, 1024, 1024, 2048, 1024]


def test_batch_steps_down_when_the_gpu_is_tight():
    facts = server_facts("0.32.15")
    kw = {"weights_bytes": 4683073952, "flash_attention": True}
    # 128K: predicted 4.68 GB + 7 GiB f16 KV = 11.4 GiB: 2048 needs <= 60 % of free memory
    assert physical_batch(facts, 131072, 1, gpu_free_bytes=24 * GiB, **kw) == 2048
    assert physical_batch(facts, 131072, 1, gpu_free_bytes=16 * GiB, **kw) == 1024
    assert physical_batch(facts, 131072, 1, gpu_free_bytes=12 * GiB, **kw) == 512
    # CUDA without flash attention: 512, or 256 on a small card above 4K tokens
    cuda = {"weights_bytes": 1, "flash_attention": False, "gpu_free_bytes": 8 * GiB}
    assert physical_batch(facts, 8192, 1, cuda_free_bytes=(8 * GiB,), **cuda) == 256
    assert physical_batch(facts, 4096, 1, cuda_free_bytes=(8 * GiB,), **cuda) == 512


def test_servers_before_0_30_use_num_batch_512_and_reserve_logits_for_it():
    old = server_facts("0.20.7")
    kw = {"weights_bytes": 1, "gpu_free_bytes": 0, "flash_attention": True}
    assert physical_batch(old, 131072, 1, **kw) == 512
    assert old.llama_server is False
    chosen = plan(this_machine("0.20.7"), target_ctx=8192, quant="q4_K_M")
    assert chosen.num_batch == 512
    new = plan(this_machine(), target_ctx=8192, quant="q4_K_M")
    logits = 512 * 152064 * 4  # f32 logits for every token of the batch
    half_new = new.estimate.compute_bytes // 2  # 1024-token batch there, 512 here
    assert chosen.estimate.compute_bytes == pytest.approx(half_new + logits, rel=0.01)


# -- what the server does unasked, by version ----------------------------------------------


@pytest.mark.parametrize(
    ("version", "by_itself", "phrase"),
    [
        ("0.13.3", False, "Ollama 0.13.3 leaves it off for qwen2"),
        ("0.13.4", True, "turns it on by itself (Ollama ≥ 0.13.4; this one is 0.13.4)"),
        ("0.32.15", True, "turns it on by itself (Ollama ≥ 0.13.4; this one is 0.32.15)"),
        (None, True, "turns it on by itself (Ollama ≥ 0.13.4); OLLAMA_FLASH_ATTENTION=1 pins"),
    ],
)
def test_the_plan_says_what_the_server_does_about_flash_attention(version, by_itself, phrase):
    assert server_facts(version).flash_attention_by_itself is by_itself
    chosen = plan(this_machine(version), target_ctx=8192, quant="q4_K_M")
    assert chosen.flash_attention and chosen.server_env["OLLAMA_FLASH_ATTENTION"] == "1"
    assert any(phrase in r for r in chosen.reasons), chosen.reasons


def test_quantized_kv_on_an_old_server_names_both_variables():
    from qwenkit.planner._fit import Candidate, Settings
    from qwenkit.planner._plan import _build, _resolve

    profile = this_machine("0.20.7")
    req = _resolve(profile, 8192, "q4_K_M", 1, True, True, False)
    chosen = _build(profile, req, Candidate("q4_K_M", 8192, Settings(True, "q8_0"), "t"), "cpu")
    line = next(r for r in chosen.reasons if r.startswith("KV cache q8_0"))
    assert "OLLAMA_KV_CACHE_TYPE=q8_0 and OLLAMA_FLASH_ATTENTION=1" in line
    assert "0.20.7 drops it otherwise" in line


def test_gpu_reserve_follows_the_server_version():
    card = [GPU("nvidia", "RTX", 12 * GiB, 12 * GiB)]
    new = plan(HardwareProfile(gpus=card, disk_free_bytes=GiB * 100, ollama_version="0.32.15"))
    old = plan(HardwareProfile(gpus=card, disk_free_bytes=GiB * 100, ollama_version="0.24.0"))
    assert new.estimate.overhead_bytes == 1024 * MiB  # llama-server --fit target
    assert old.estimate.overhead_bytes == 457 * MiB  # Ollama's MinimumMemory()
