"""The probe against recorded tool outputs, failing tools, a hung tool and this machine."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import time
from pathlib import Path

import pytest

from qwenkit.errors import OllamaUnavailableError
from qwenkit.hardware import CompletedResult, HardwareProfile, probe
from qwenkit.hardware import _probe as hardware
from qwenkit.hardware._sources import (
    disk_free_bytes,
    parse_cpuinfo,
    parse_meminfo,
    parse_nvidia_smi,
    parse_rocm_smi,
    psutil_stats,
)
from qwenkit.types import ProcessResponse, RunningModel
from tests.snapshots import assert_snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "hardware"
MiB = 1 << 20
GiB = 1 << 30


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class Machine:
    """A fake machine: tool name -> result (None = not installed), path -> file text."""

    def __init__(self, tools=None, files=None):
        self.tools = tools or {}
        self.files = files or {}
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv, timeout):
        self.calls.append(tuple(argv))
        assert timeout > 0
        return self.tools.get(argv[0])

    def read(self, path):
        return self.files.get(path)

    def probe(self, **kw) -> HardwareProfile:
        kw.setdefault("system", "Linux")
        kw.setdefault("machine", "x86_64")
        return probe(
            runner=self.run,
            read_file=self.read,
            env=kw.pop("env", {"HOME": "/home/u"}),
            query_server=kw.pop("query_server", False),
            disk_free=kw.pop("disk_free", lambda path: 100 * GiB),
            **kw,
        )


def ok(text: str) -> CompletedResult:
    return CompletedResult(0, text)


LINUX_FILES = {
    "/proc/meminfo": fixture("linux_cpu_only.meminfo"),
    "/proc/cpuinfo": fixture("linux_cpu_only.cpuinfo"),
}


# -- NVIDIA -----------------------------------------------------------------------------


def test_single_nvidia_gpu():
    profile = Machine({"nvidia-smi": ok(fixture("nvidia_single_4090.csv"))}, LINUX_FILES).probe()
    (gpu,) = profile.gpus
    assert (gpu.vendor, gpu.name, gpu.index) == ("nvidia", "NVIDIA GeForce RTX 4090", 0)
    assert gpu.memory_total_bytes == 24564 * MiB
    assert gpu.memory_free_bytes == 23975 * MiB
    assert gpu.driver == "550.54.14" and not gpu.unified


def test_two_nvidia_gpus():
    gpus = parse_nvidia_smi(fixture("nvidia_multi_2x3090.csv"))
    assert [g.index for g in gpus] == [0, 1]
    assert [g.memory_free_bytes for g in gpus] == [24124 * MiB, 24259 * MiB]


def test_laptop_gpu_and_the_plan_it_gets():
    from qwenkit.planner import plan

    profile = Machine({"nvidia-smi": ok(fixture("nvidia_laptop_8gb.csv"))}, LINUX_FILES).probe()
    assert profile.gpus[0].name == "NVIDIA GeForce RTX 4060 Laptop GPU"
    assert profile.gpus[0].memory_total_bytes == 8188 * MiB
    assert plan(profile).quantization == "q4_K_M"


def test_unified_memory_board_reports_na_memory():
    (gpu,) = parse_nvidia_smi("0, NVIDIA GB10, [N/A], [N/A], 580.95.05\n")
    assert gpu.memory_total_bytes is None and gpu.name == "NVIDIA GB10"


def test_failing_driver_degrades_to_no_gpu_with_a_note():
    failed = CompletedResult(9, fixture("nvidia_failed_driver.txt"))
    profile = Machine({"nvidia-smi": failed}, LINUX_FILES).probe()
    assert profile.gpus == []
    assert any("exit 9" in n and "couldn't communicate" in n for n in profile.notes)
    assert profile.ram_total_bytes  # the rest of the probe still ran


def test_garbled_output_degrades_with_a_note():
    profile = Machine({"nvidia-smi": ok(fixture("nvidia_garbled.txt"))}, LINUX_FILES).probe()
    assert profile.gpus == []
    assert any(n.startswith("nvidia-smi: could not parse") for n in profile.notes)


def test_timeout_reported_by_the_runner_is_a_note():
    hung = CompletedResult(-9, "", "", timed_out=True)
    profile = Machine({"nvidia-smi": hung}, LINUX_FILES).probe()
    assert profile.gpus == []
    assert any("nvidia-smi: timed out" in n for n in profile.notes)


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as a fake tool")
def test_a_hung_tool_does_not_hang_the_probe(tmp_path, monkeypatch):
    tool = tmp_path / "nvidia-smi"
    # a child keeps the pipe open too: killing only the tool would still leave us waiting
    tool.write_text("#!/bin/sh\nsleep 30 &\nsleep 30\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(hardware, "COMMAND_TIMEOUT", 0.3)
    start = time.monotonic()
    profile = probe(query_server=False)
    assert time.monotonic() - start < 10  # would be 30 s if the timeout were not enforced
    assert any("nvidia-smi: timed out" in n for n in profile.notes)


def test_real_runner_reports_missing_tools_and_exit_codes():
    assert hardware.run_command(["qwenkit-no-such-tool-xyz"], 1.0) is None
    if shutil.which("sh"):
        done = hardware.run_command(["sh", "-c", "echo hi; exit 3"], 5.0)
        assert done is not None and (done.returncode, done.stdout) == (3, "hi\n")


# -- AMD --------------------------------------------------------------------------------


def test_rocm_smi_json():
    (gpu,) = parse_rocm_smi(fixture("rocm_smi_7900xtx.json"))
    assert (gpu.vendor, gpu.name, gpu.driver) == ("amd", "Radeon RX 7900 XTX", "6.8.5")
    assert gpu.memory_total_bytes == 25753026560
    assert gpu.memory_free_bytes == 25753026560 - 1103101952


def test_amd_sysfs_when_rocm_smi_is_missing():
    files = dict(LINUX_FILES)
    base = "/sys/class/drm/card1/device/"
    files.update(
        {
            base + "vendor": "0x1002\n",
            base + "mem_info_vram_total": "17163091968\n",
            base + "mem_info_vram_used": "524288000\n",
            "/sys/class/drm/card0/device/vendor": "0x8086\n",  # an Intel iGPU: skipped
        }
    )
    profile = Machine({}, files).probe()
    (gpu,) = profile.gpus
    assert (gpu.vendor, gpu.memory_total_bytes) == ("amd", 17163091968)
    assert gpu.memory_free_bytes == 17163091968 - 524288000


def test_rocm_garbage_falls_back_to_sysfs_with_a_note():
    profile = Machine({"rocm-smi": ok("WARNING: no JSON here")}, LINUX_FILES).probe()
    assert profile.gpus == []
    assert any(n.startswith("rocm-smi: could not parse") for n in profile.notes)


# -- Apple ------------------------------------------------------------------------------


def test_m_series_mac():
    tools = {
        "sysctl": CompletedResult(1, fixture("mac_m2pro_16gb.sysctl"), "unknown oid"),
        "vm_stat": ok(fixture("mac_m2pro_16gb.vm_stat")),
    }
    mac = Machine(tools)
    profile = mac.probe(system="Darwin", machine="arm64")
    (gpu,) = profile.gpus
    assert (gpu.vendor, gpu.unified, gpu.name) == ("apple", True, "Apple M2 Pro")
    assert gpu.memory_total_bytes == 16 * GiB * 2 // 3  # llama.cpp: 11453.25 MB
    assert profile.ram_total_bytes == 16 * GiB
    assert profile.ram_available_bytes == (41877 + 295071 + 6517) * 16384
    assert (profile.os, profile.cpu_cores, profile.cpu_flags) == ("macos", 10, ["neon"])
    assert [c[0] for c in mac.calls] == ["sysctl", "vm_stat"]  # no nvidia-smi on a Mac


def test_mac_wired_limit_wins():
    tools = {"sysctl": ok(fixture("mac_m3max_64gb_wired.sysctl"))}
    profile = Machine(tools).probe(system="Darwin", machine="arm64")
    assert profile.gpus[0].memory_total_bytes == 57344 * MiB
    assert profile.ram_available_bytes is None
    assert any(n.startswith("RAM available: unknown") for n in profile.notes)


# -- RAM, CPU, environment --------------------------------------------------------------


def test_cpu_only_linux_from_recorded_proc_files():
    profile = Machine({}, LINUX_FILES).probe()
    total, available = parse_meminfo(fixture("linux_cpu_only.meminfo"))
    assert (profile.ram_total_bytes, profile.ram_available_bytes) == (total, available)
    assert profile.gpus == []
    assert "avx2" in profile.cpu_flags and profile.cpu_cores
    assert any("no NVIDIA or AMD GPU" in n for n in profile.notes)


def test_cpuinfo_counts_physical_cores_and_keeps_known_flags():
    text = "".join(
        f"processor\t: {i}\nmodel name\t: Intel Xeon\nphysical id\t: 0\ncore id\t\t: {i // 2}\n"
        "flags\t\t: fpu sse avx avx2 fma avx512f\n\n"
        for i in range(8)
    )
    assert parse_cpuinfo(text) == ("Intel Xeon", 4, ["avx", "avx2", "fma", "avx512f"])


def test_unreadable_proc_files_leave_ram_unknown():
    profile = Machine({}, {}).probe()
    assert profile.ram_total_bytes is None and profile.cpu_model is None
    assert any(n.startswith("RAM: unknown") for n in profile.notes)


def test_wsl_and_container_detection():
    files = dict(LINUX_FILES)
    files["/proc/sys/kernel/osrelease"] = "5.15.153.1-microsoft-standard-WSL2\n"
    assert Machine({}, files).probe().wsl
    assert not Machine({}, LINUX_FILES).probe().container
    files["/.dockerenv"] = ""
    assert Machine({}, files).probe().container
    kube = dict(LINUX_FILES, **{"/proc/1/cgroup": "0::/kubepods/besteffort/pod1/abc\n"})
    assert Machine({}, kube).probe().container


def test_models_dir_and_disk(tmp_path):
    seen = []

    def free(path):
        seen.append(path)
        return 42

    profile = Machine({}, LINUX_FILES).probe(env={"OLLAMA_MODELS": str(tmp_path)}, disk_free=free)
    assert (profile.models_dir, profile.disk_free_bytes, seen) == (
        str(tmp_path),
        42,
        [str(tmp_path)],
    )
    default = Machine({}, LINUX_FILES).probe(env={"HOME": "/home/u"}, disk_free=free)
    assert default.models_dir in ("/home/u/.ollama/models", "/usr/share/ollama/.ollama/models")


def test_disk_free_walks_up_to_an_existing_parent(tmp_path):
    missing = tmp_path / "not" / "yet" / "models"
    assert disk_free_bytes(str(missing)) == shutil.disk_usage(tmp_path).free


# -- the server -------------------------------------------------------------------------


def fake_server(version="0.6.2", models=(), error=None):
    """A `connect` for `probe`: a client answering with real response types, or failing."""

    class FakeClient:
        def __init__(self, host, timeout):
            assert timeout <= 2
            self.host = host

        def __enter__(self):
            if error:
                raise error
            return self

        def __exit__(self, *exc):
            return False

        def version(self):
            return version

        def ps(self):
            return ProcessResponse(models=list(models))

    return FakeClient


@pytest.fixture
def listener():
    """Something listening on loopback, so the probe goes on to ask the (fake) client."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_server_version_and_loaded_models(listener):
    running = RunningModel(
        name="qwen2.5:7b-instruct-q4_K_M", size=6 * GiB, size_vram=6 * GiB, context_length=32768
    )
    connect = fake_server(models=[running])
    profile = Machine({}, LINUX_FILES).probe(query_server=True, host=listener, connect=connect)
    assert profile.ollama_version == "0.6.2"
    (loaded,) = profile.loaded
    assert (loaded.name, loaded.size_vram, loaded.context_length) == (
        "qwen2.5:7b-instruct-q4_K_M",
        6 * GiB,
        32768,
    )


def test_unreachable_server_is_a_note(listener):
    error = OllamaUnavailableError("http://127.0.0.1:11434")
    connect = fake_server(error=error)
    profile = Machine({}, LINUX_FILES).probe(query_server=True, host=listener, connect=connect)
    assert profile.ollama_version is None and profile.loaded == []
    assert any(n.startswith("ollama: not reachable") for n in profile.notes)


def test_nothing_listening_skips_the_client():
    connect = fake_server(error=AssertionError())
    profile = Machine({}, LINUX_FILES).probe(query_server=True, host="127.0.0.1:9", connect=connect)
    assert profile.ollama_version is None
    assert "ollama: nothing listening at http://127.0.0.1:9" in profile.notes


def test_no_server_query_when_told_not_to(listener):
    connect = fake_server(error=AssertionError())
    profile = Machine({}, LINUX_FILES).probe(query_server=False, host=listener, connect=connect)
    assert profile.ollama_version is None and not any("ollama" in n for n in profile.notes)


def test_against_the_fake_ollama_server():
    fake_ollama = pytest.importorskip("tests.fake_ollama")
    with fake_ollama.FakeOllama(version="0.6.2") as fake:
        profile = Machine({}, LINUX_FILES).probe(query_server=True, host=fake.url)
    assert (profile.ollama_version, profile.loaded) == ("0.6.2", [])


# -- this machine -----------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only")
def test_this_machine_cpu_only_with_the_right_ram():
    profile = probe(query_server=False)
    total, _ = parse_meminfo(Path("/proc/meminfo").read_text())
    assert profile.ram_total_bytes == total
    assert profile.ram_available_bytes is not None and profile.ram_available_bytes <= total
    if not shutil.which("nvidia-smi") and not shutil.which("rocm-smi"):
        assert profile.gpus == []


def test_to_dict_snapshot():
    """`qwenkit probe --json`'s hardware object for a recorded RTX 4090 Linux box."""
    profile = Machine({"nvidia-smi": ok(fixture("nvidia_single_4090.csv"))}, LINUX_FILES).probe()
    assert_snapshot("probe_linux_4090", profile.to_dict())


def test_the_injected_environment_names_the_server():
    env = {"HOME": "/home/u", "OLLAMA_HOST": "127.0.0.1:9"}
    connect = fake_server(error=AssertionError())
    profile = Machine({}, LINUX_FILES).probe(query_server=True, env=env, connect=connect)
    assert "ollama: nothing listening at http://127.0.0.1:9" in profile.notes


def test_windows_reads_ram_and_cores_through_psutil():
    stats = lambda: (32 * GiB, 20 * GiB, 8)  # noqa: E731
    profile = Machine({}, {}).probe(system="Windows", machine="AMD64", stats=stats)
    assert (profile.os, profile.ram_total_bytes, profile.ram_available_bytes) == (
        "windows",
        32 * GiB,
        20 * GiB,
    )
    assert profile.cpu_cores == 8
    assert not any(note.startswith("RAM: unknown") for note in profile.notes)


def test_a_failing_psutil_is_a_note():
    def broken():
        raise OSError("no such counter")

    profile = Machine({}, {}).probe(system="Windows", machine="AMD64", stats=broken)
    assert profile.ram_total_bytes is None
    assert "RAM: unknown (psutil: OSError: no such counter)" in profile.notes


def test_psutil_reads_this_machine():
    total, available, cores = psutil_stats()
    assert total is not None and available is not None and 0 < available <= total
    assert cores is None or cores >= 1
