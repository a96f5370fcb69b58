"""The memory model and the planner against the numbers in hardware-fit.md."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwenkit.catalog import LADDER, quant_tag
from qwenkit.errors import InvalidRequestError, PlanError
from qwenkit.hardware import GPU, HardwareProfile, LoadedModel
from qwenkit.hardware._sources import metal_limit_bytes
from qwenkit.planner import HEADROOM, Plan, _memory, plan, smaller_plan
from qwenkit.planner._fit import Candidate, Settings, estimate_for
from qwenkit.planner._plan import _resolve
from tests.snapshots import assert_snapshot

GiB = 1 << 30
MiB = 1 << 20


# -- hand-built profiles (test helpers only) --------------------------------------------


def gpus(*sizes_gib: float, ram_gib: float = 32, disk_gib: float = 200, **kw) -> HardwareProfile:
    cards = [GPU("nvidia", f"GPU {s} GiB", int(s * GiB), index=i) for i, s in enumerate(sizes_gib)]
    return HardwareProfile(
        gpus=cards,
        ram_total_bytes=int(ram_gib * GiB),
        ram_available_bytes=int(ram_gib * 0.85 * GiB),
        disk_free_bytes=int(disk_gib * GiB),
        **kw,
    )


def mac(ram_gib: int) -> HardwareProfile:
    limit = metal_limit_bytes(ram_gib * GiB)
    return HardwareProfile(
        gpus=[GPU("apple", "Apple M2 Pro", limit, None, "Metal", 0, unified=True)],
        ram_total_bytes=ram_gib * GiB,
        ram_available_bytes=ram_gib * GiB // 2,
        disk_free_bytes=200 * GiB,
        os="macos",
        arch="arm64",
    )


def cpu(total_gib: float, available_gib: float) -> HardwareProfile:
    return HardwareProfile(
        ram_total_bytes=int(total_gib * GiB),
        ram_available_bytes=int(available_gib * GiB),
        disk_free_bytes=200 * GiB,
    )


def shape(p: Plan) -> tuple[str, int, str, bool, str]:
    return (p.quantization, p.num_ctx, p.kv_cache_type, p.flash_attention, p.offload)


# -- memory model -----------------------------------------------------------------------


def test_kv_cache_matches_the_reference_table():
    # hardware-fit.md §5.1: 56 KiB per token at f16; 8K = 448 MiB, 32K = 1792 MiB, 128K = 7 GiB
    assert _memory.kv_bytes_per_token("f16") == 56 * 1024
    assert _memory.kv_cache_bytes(8192) == 448 * MiB
    assert _memory.kv_cache_bytes(32768) == 1792 * MiB
    assert _memory.kv_cache_bytes(131072) == 7 * GiB
    # real llama.cpp block sizes: 34/32 and 18/32 bytes per element
    assert _memory.kv_bytes_per_token("q8_0") == 30464
    assert _memory.kv_bytes_per_token("q4_0") == 16128
    assert _memory.kv_cache_bytes(8192, parallel=4) == 4 * _memory.kv_cache_bytes(8192)


# -- the plan table (a current server: flash attention on, llama-server keeps 1 GiB per GPU) --

TABLE = [
    # 8 GiB: q4_K_M at 32K with an f16 cache needs 7.3 GiB of the 6.7 allowed; a q8_0 cache
    # brings it to 6.5 (§6.4: "32K only with FA ... 5.7 GiB" before the 1 GiB fit reserve).
    ("8 GiB 32K", gpus(8), None, ("q4_K_M", 32768, "q8_0", True, "gpu")),
    # 12 GiB: 32K needs no q8_0 cache — q6_K with f16 takes 9.0 of 10.3 GiB
    ("12 GiB 32K", gpus(12), None, ("q6_K", 32768, "f16", True, "gpu")),
    ("16 GiB 32K", gpus(16), None, ("q8_0", 32768, "f16", True, "gpu")),
    ("24 GiB 32K", gpus(24), None, ("q8_0", 32768, "f16", True, "gpu")),
    ("48 GiB 32K", gpus(48), None, ("q8_0", 32768, "f16", True, "gpu")),
    ("80 GiB 32K", gpus(80), None, ("q8_0", 32768, "f16", True, "gpu")),
    # two 8 GiB cards: without flash attention's 1.9 GiB of scores per card q8_0 now fits
    ("2x8 GiB 32K", gpus(8, 8), None, ("q8_0", 32768, "f16", True, "gpu")),
    ("2x24 GiB 32K", gpus(24, 24), None, ("q8_0", 32768, "f16", True, "gpu")),
    ("Mac 16 GB 32K", mac(16), None, ("q6_K", 32768, "f16", True, "gpu")),
    ("Mac 32 GB 32K", mac(32), None, ("q8_0", 32768, "f16", True, "gpu")),
    ("CPU 16 GB", cpu(15.5, 13), None, ("q4_K_M", 8192, "f16", True, "cpu")),
    ("CPU 32 GB", cpu(31.3, 27), None, ("q4_K_M", 16384, "f16", True, "cpu")),
    ("8 GiB 128K", gpus(8), 131072, ("q4_K_M", 32768, "q8_0", True, "gpu")),
    ("12 GiB 128K", gpus(12), 131072, ("q5_K_M", 131072, "q8_0", True, "gpu")),
    # 16 GiB: q6_K at 128K needs 14.2 GiB with the 1 GiB fit reserve; q5_K_M 13.4
    ("16 GiB 128K", gpus(16), 131072, ("q5_K_M", 131072, "f16", True, "gpu")),
    ("24 GiB 128K", gpus(24), 131072, ("q8_0", 131072, "f16", True, "gpu")),
    ("48 GiB 128K", gpus(48), 131072, ("q8_0", 131072, "f16", True, "gpu")),
    ("80 GiB 128K", gpus(80), 131072, ("q8_0", 131072, "f16", True, "gpu")),
    ("2x8 GiB 128K", gpus(8, 8), 131072, ("q6_K", 131072, "q8_0", True, "gpu")),
    ("Mac 16 GB 128K", mac(16), 131072, ("q4_K_M", 131072, "q8_0", True, "gpu")),
    ("Mac 32 GB 128K", mac(32), 131072, ("q8_0", 131072, "f16", True, "gpu")),
    # CPU 16 GB: at 128K Ollama runs a 2048-token batch (1 GiB of compute), so even a q8_0
    # cache needs 9.1 of the 9.0 GiB allowed; 64K with f16 takes 8.7
    ("CPU 16 GB 128K", cpu(15.5, 13), 131072, ("q4_K_M", 65536, "f16", True, "cpu")),
]


@pytest.mark.parametrize(
    ("profile", "ctx", "expected"), [c[1:] for c in TABLE], ids=[c[0] for c in TABLE]
)
def test_plan_table(profile, ctx, expected):
    chosen = plan(profile, target_ctx=ctx)
    assert shape(chosen) == expected
    assert chosen.tag == f"qwen2.5:7b-instruct-{expected[0]}"
    assert chosen.reasons
    if chosen.budget_bytes is not None and chosen.offload != "partial":
        assert chosen.estimate.total_bytes <= chosen.budget_bytes * (1 - HEADROOM)


def test_8gib_without_flash_attention_drops_to_8k():
    # without flash attention the f32 scores grow with the context (1.8 GiB at 16K for a
    # 1024-token batch; Ollama gives CUDA 256 there): 16K needs 6.8 of the 6.7 GiB allowed
    chosen = plan(gpus(8), allow_flash_attention=False)
    assert shape(chosen) == ("q4_K_M", 8192, "f16", False, "gpu")
    assert chosen.num_batch == 256
    assert chosen.server_env["OLLAMA_FLASH_ATTENTION"] == "0"  # a current server would turn it on
    assert any("shortened from 32768 to 8192" in w for w in chosen.warnings)


def test_fp16_only_when_asked():
    assert plan(gpus(24)).quantization == "q8_0"
    assert any("fp16" in r for r in plan(gpus(24)).reasons)
    assert plan(gpus(24), allow_fp16=True).quantization == "fp16"


def test_server_env_says_what_the_plan_relies_on():
    accelerated = plan(gpus(8))
    assert accelerated.server_env == {
        "OLLAMA_NUM_PARALLEL": "1",
        "OLLAMA_FLASH_ATTENTION": "1",
        "OLLAMA_KV_CACHE_TYPE": "q8_0",
    }
    assert any("OLLAMA_FLASH_ATTENTION=1" in r for r in accelerated.reasons)
    assert any("OLLAMA_KV_CACHE_TYPE=q8_0" in r for r in accelerated.reasons)
    assert plan(gpus(16)).server_env == {"OLLAMA_NUM_PARALLEL": "1", "OLLAMA_FLASH_ATTENTION": "1"}
    assert plan(gpus(16), parallel=3).server_env["OLLAMA_NUM_PARALLEL"] == "3"


def test_kv_quant_disallowed_keeps_f16():
    chosen = plan(gpus(8), allow_kv_quant=False)
    assert chosen.kv_cache_type == "f16"
    assert "OLLAMA_KV_CACHE_TYPE" not in chosen.server_env


def test_parallel_multiplies_the_kv_cache():
    one, four = plan(gpus(80)), plan(gpus(80), parallel=4)
    assert four.estimate.kv_cache_bytes == 4 * one.estimate.kv_cache_bytes
    assert any("4 parallel slots" in r for r in four.reasons)


def test_yarn_is_flagged_above_32k():
    chosen = plan(gpus(80), target_ctx=65536)
    assert chosen.needs_yarn and chosen.num_ctx == 65536
    assert any("YaRN" in w for w in chosen.warnings)
    assert not plan(gpus(80)).needs_yarn


def test_small_gpu_goes_below_q4_k_m_only_after_shortening():
    chosen = plan(gpus(6))  # 6 GiB: q4_K_M does not fit even at 4096 tokens
    assert chosen.quantization == "q3_K_M" and chosen.offload == "gpu"
    assert any("falling back to q3_K_M" in r for r in chosen.reasons)


def test_tiny_gpu_plans_partial_offload_honestly():
    chosen = plan(gpus(4))
    assert chosen.offload == "partial" and not chosen.fits_in_gpu
    assert chosen.quantization == "q4_K_M" and chosen.num_ctx <= 8192
    assert any("part of it runs on the CPU" in w for w in chosen.warnings)


def test_forced_tag_that_cannot_fit_raises_with_numbers():
    with pytest.raises(PlanError) as info:
        plan(cpu(15.5, 13), quant="fp16")
    assert "GiB" in str(info.value) and "fp16" in str(info.value)
    assert info.value.exit_code == 4


def test_forced_tag_bigger_than_the_gpu_offloads_partially():
    chosen = plan(gpus(8, ram_gib=64), quant="fp16")
    assert chosen.quantization == "fp16" and chosen.offload == "partial"


def test_disk_too_small_raises_and_tight_disk_skips_big_tags():
    with pytest.raises(PlanError, match="disk space"):
        plan(gpus(24, disk_gib=2))
    chosen = plan(gpus(24, disk_gib=6))
    assert chosen.quantization == "q5_K_M"
    assert any("skipped q8_0, q6_K" in r for r in chosen.reasons)
    with pytest.raises(PlanError, match="disk space"):
        plan(gpus(24, disk_gib=6), quant="q8_0")


def test_invalid_requests_are_usage_errors_not_plans_that_do_not_fit():
    for bad in (262144, 511, 0, -1):
        with pytest.raises(InvalidRequestError, match="outside 512-131072"):
            plan(gpus(24), target_ctx=bad)
    with pytest.raises(InvalidRequestError):
        plan(gpus(24), parallel=0)
    with pytest.raises(InvalidRequestError, match="unknown quantization 'q9_X'") as info:
        plan(gpus(24), quant="q9_X")
    assert "q4_K_M" in (info.value.hint or "") and info.value.exit_code == 2


def test_memory_used_by_other_programs_counts_but_ollamas_own_models_do_not():
    busy = HardwareProfile(
        gpus=[GPU("nvidia", "RTX 4090", 24 * GiB, 10 * GiB)], ram_available_bytes=20 * GiB
    )
    # 14 GiB used by other programs leaves ~9.9 GiB: q6_K fits 32K with an f16 cache (8.8)
    assert shape(plan(busy)) == ("q6_K", 32768, "f16", True, "gpu")
    assert plan(busy).budget_bytes < 10 * GiB
    reclaimable = HardwareProfile(
        gpus=[GPU("nvidia", "RTX 4090", 24 * GiB, 10 * GiB)],
        ram_available_bytes=20 * GiB,
        loaded=[LoadedModel("qwen2.5:7b-instruct-q8_0", 14 * GiB, 14 * GiB, 32768)],
    )
    assert shape(plan(reclaimable)) == shape(plan(gpus(24)))


def test_unknown_ram_on_cpu_still_plans_and_warns():
    chosen = plan(HardwareProfile())
    assert shape(chosen) == ("q4_K_M", 8192, "f16", True, "cpu")
    assert any("RAM size unknown" in w for w in chosen.warnings)
    assert any("free disk space unknown" in w for w in chosen.warnings)


def test_small_integrated_gpus_are_ignored():
    igpu = HardwareProfile(
        gpus=[GPU("amd", "APU", 512 * MiB)], ram_available_bytes=28 * GiB, ram_total_bytes=32 * GiB
    )
    assert plan(igpu).offload == "cpu"


def test_to_dict_snapshot():
    """`qwenkit probe --json`'s plan object for one 12 GiB GPU (numbers and reasons)."""
    assert_snapshot("plan_12gib_gpu", plan(gpus(12)).to_dict())


# -- smaller_plan -----------------------------------------------------------------------


def test_smaller_plan_steps_down_tag_then_context_then_below_q4():
    profile = gpus(80)
    current = plan(profile)
    steps = []
    while current is not None and len(steps) < 20:
        steps.append((current.quantization, current.num_ctx))
        current = smaller_plan(profile, current)
    assert steps == [
        ("q8_0", 32768),
        ("q6_K", 32768),
        ("q5_K_M", 32768),
        ("q4_K_M", 32768),
        ("q4_K_M", 16384),
        ("q4_K_M", 8192),
        ("q4_K_M", 4096),
        ("q3_K_M", 4096),
        ("q2_K", 4096),
    ]


def test_smaller_plan_keeps_settings_and_explains():
    profile = gpus(8)
    current = plan(profile)
    smaller = smaller_plan(profile, current)
    assert smaller is not None
    assert (smaller.quantization, smaller.num_ctx) == ("q4_K_M", 16384)
    assert smaller.kv_cache_type == current.kv_cache_type
    assert smaller.reasons[0].startswith("stepped down from q4_K_M at 32768")


# -- properties -------------------------------------------------------------------------

CONTEXTS = st.sampled_from([4096, 8192, 16384, 32768, 65536, 131072])


@settings(max_examples=150, deadline=None)
@given(
    vram=st.floats(min_value=3, max_value=96),
    ctx=CONTEXTS,
    parallel=st.integers(1, 4),
    allow_fa=st.booleans(),
    allow_kvq=st.booleans(),
)
def test_never_beaten_by_a_better_tag_that_also_fits(vram, ctx, parallel, allow_fa, allow_kvq):
    profile = gpus(vram, ram_gib=64)
    chosen = plan(
        profile,
        target_ctx=ctx,
        parallel=parallel,
        allow_flash_attention=allow_fa,
        allow_kv_quant=allow_kvq,
    )
    assert chosen == plan(
        profile,
        target_ctx=ctx,
        parallel=parallel,
        allow_flash_attention=allow_fa,
        allow_kv_quant=allow_kvq,
    )  # pure
    assert chosen.num_ctx <= ctx
    if chosen.offload != "gpu":
        return
    cap = chosen.budget_bytes * (1 - HEADROOM)
    assert chosen.estimate.total_bytes <= cap
    rank = quant_tag(chosen.quantization).rank
    settings_ = Settings(chosen.flash_attention, chosen.kv_cache_type)
    for better in (q for q in LADDER if quant_tag(q).rank > rank):
        req = _resolve(profile, chosen.num_ctx, better, parallel, allow_fa, allow_kvq, False)
        rival = estimate_for(Candidate(better, chosen.num_ctx, settings_, "rival"), req, "gpu")
        assert rival.total_bytes > cap, f"{better} also fits"


@settings(max_examples=60, deadline=None)
@given(vram=st.floats(min_value=1, max_value=96), extra=st.floats(min_value=0, max_value=8))
def test_more_memory_never_gives_a_smaller_context_at_the_same_tag(vram, extra):
    small, big = plan(gpus(vram, ram_gib=64)), plan(gpus(vram + extra, ram_gib=64))
    if small.quantization == big.quantization and small.offload == big.offload == "gpu":
        assert big.num_ctx >= small.num_ctx
