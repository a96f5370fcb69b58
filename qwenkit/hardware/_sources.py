"""One small reader per hardware source, for `qwenkit.hardware.probe`.

Each `parse_*` function is pure (text in, values out) and raises `ValueError` on output it
does not understand; the `read_*` functions run a command or read a file through the
injected `ProbeContext` and turn every failure into `None` plus a note, never an exception.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..catalog import GiB, MiB
from ._profile import GPU, CompletedResult

NVIDIA_QUERY = (
    "nvidia-smi",
    "--query-gpu=index,name,memory.total,memory.free,driver_version",
    "--format=csv,noheader,nounits",
)
ROCM_QUERY = (
    "rocm-smi",
    "--showmeminfo",
    "vram",
    "--showproductname",
    "--showdriverversion",
    "--json",
)
SYSCTL_NAMES = (
    "hw.memsize",
    "hw.ncpu",
    "hw.physicalcpu",
    "machdep.cpu.brand_string",
    "machdep.cpu.features",
    "machdep.cpu.leaf7_features",
    "iogpu.wired_limit_mb",
)
#: CPU features that matter for llama.cpp's CPU kernels.
CPU_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "asimd",
    "asimddp",
    "sve",
    "i8mm",
    "neon",
)
SYSFS_CARDS = 8


@dataclass
class ProbeContext:
    """The probe's view of the machine: injectable command runner, file reader, env."""

    run: Callable[[Sequence[str], float], CompletedResult | None]
    read: Callable[[str], str | None]
    env: Mapping[str, str]
    system: str
    machine: str
    timeout: float
    stats: Callable[[], SystemStats]
    notes: list[str] = field(default_factory=list)

    def command(self, argv: Sequence[str], *, quiet_missing: bool = True) -> str | None:
        """stdout of a successful command; otherwise None and (mostly) a note."""
        result = self.run(argv, self.timeout)
        tool = argv[0]
        if result is None:
            if not quiet_missing:
                self.notes.append(f"{tool}: not found")
            return None
        if result.timed_out:
            self.notes.append(f"{tool}: timed out after {self.timeout:g}s (a hung driver?)")
            return None
        if result.returncode != 0:
            detail = _first_line(result.stdout) or _first_line(result.stderr) or "no output"
            self.notes.append(f"{tool}: failed (exit {result.returncode}): {detail}")
            return None
        return result.stdout


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


# -- pure parsers -----------------------------------------------------------------------


def parse_nvidia_smi(text: str) -> list[GPU]:
    """`index, name, memory.total, memory.free, driver` lines (MiB, no units)."""
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 5 or not cells[0].isdigit():
            raise ValueError(f"unexpected nvidia-smi line: {line[:80]!r}")
        index, name = int(cells[0]), ", ".join(cells[1:-3])
        total, free, driver = _mib(cells[-3]), _mib(cells[-2]), cells[-1]
        gpus.append(GPU("nvidia", name, total, free, driver or None, index))
    if not gpus:
        raise ValueError("nvidia-smi listed no GPU")
    return gpus


def _mib(cell: str) -> int | None:
    """`24564` → bytes; `[N/A]`/`[Not Supported]` (unified-memory boards) → None."""
    if cell.startswith("["):
        return None
    return int(float(cell) * MiB)


def parse_rocm_smi(text: str) -> list[GPU]:
    """`rocm-smi --showmeminfo vram --showproductname --json`: one object per `cardN`."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("rocm-smi JSON is not an object")
    system = data.get("system")
    driver = system.get("Driver version") if isinstance(system, dict) else None
    gpus = []
    for key, card in sorted(data.items()):
        match = re.fullmatch(r"card(\d+)", key)
        if not match or not isinstance(card, dict):
            continue
        total = int(card["VRAM Total Memory (B)"])
        used = int(card.get("VRAM Total Used Memory (B)", 0))
        gpus.append(GPU("amd", _amd_name(card), total, total - used, driver, int(match[1])))
    if not gpus:
        raise ValueError("rocm-smi listed no GPU")
    return gpus


def _amd_name(card: Mapping[str, Any]) -> str:
    for key in ("Card Series", "Card series", "Device Name", "Card Model", "Card model"):
        value = card.get(key)
        if isinstance(value, str) and value and value != "N/A":
            return value
    return "AMD GPU"


def parse_meminfo(text: str) -> tuple[int, int | None]:
    """`/proc/meminfo` → (MemTotal, MemAvailable) in bytes; MemAvailable is absent < 3.14."""
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0]) * 1024  # the kernel's "kB" is KiB
    if "MemTotal" not in values:
        raise ValueError("no MemTotal in /proc/meminfo")
    return values["MemTotal"], values.get("MemAvailable")


def parse_cpuinfo(text: str) -> tuple[str | None, int | None, list[str]]:
    """`/proc/cpuinfo` → (model, physical cores or logical CPUs, interesting flags)."""
    model = None
    logical, cores, flags = 0, set(), set()
    physical = "0"
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            logical += 1
        elif key in ("model name", "Hardware", "Model", "cpu model") and model is None:
            model = value or None
        elif key == "physical id":
            physical = value
        elif key == "core id":
            cores.add((physical, value))
        elif key in ("flags", "Features"):
            flags.update(value.split())
    count = len(cores) or logical or None
    return model, count, [f for f in CPU_FLAGS if f in flags]


def parse_sysctl(text: str) -> dict[str, str]:
    """`sysctl name…` lines `name: value` (unknown names go to stderr and are skipped)."""
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def metal_limit_bytes(memsize: int, wired_limit_mb: int = 0) -> int:
    """Metal's working-set limit: `iogpu.wired_limit_mb` when set, else ~2/3 or 3/4 of RAM.

    >>> round(metal_limit_bytes(16 * GiB) / 1e6, 2)   # llama.cpp logs 11453.25 MB on 16 GB
    11453.25
    """
    if wired_limit_mb > 0:
        return wired_limit_mb * MiB
    return memsize * 2 // 3 if memsize <= 36 * GiB else memsize * 3 // 4


def parse_vm_stat(text: str) -> int:
    """`vm_stat` → bytes available now: free + inactive + speculative pages."""
    size = re.search(r"page size of (\d+) bytes", text)
    if not size:
        raise ValueError("no page size in vm_stat output")
    pages = 0
    for name in ("Pages free", "Pages inactive", "Pages speculative"):
        found = re.search(rf"^{name}:\s+(\d+)", text, re.MULTILINE)
        if found:
            pages += int(found[1])
    return pages * int(size[1])


# -- readers (I/O through the context) --------------------------------------------------


def collect(ctx: ProbeContext, *, disk_free: Callable[[str], int | None]) -> dict[str, Any]:
    """Every field of a `HardwareProfile` except the server's, from every source."""
    facts: dict[str, Any] = {"os": _os_name(ctx.system), "arch": ctx.machine.lower()}
    if ctx.system == "Darwin":
        facts.update(read_darwin(ctx))
    else:
        facts.update(read_linux(ctx) if ctx.system == "Linux" else read_portable(ctx))
        facts["gpus"] = read_nvidia(ctx) + read_amd(ctx)
        if not facts["gpus"]:
            ctx.notes.append("no NVIDIA or AMD GPU found: planning for the CPU")
    models_dir = ollama_models_dir(ctx.env, ctx.system)
    facts["models_dir"] = models_dir
    facts["disk_free_bytes"] = disk_free(models_dir)
    if facts["disk_free_bytes"] is None:
        ctx.notes.append(f"disk: cannot read free space at {models_dir}")
    return facts


def _os_name(system: str) -> str:
    return {"Darwin": "macos", "Windows": "windows"}.get(system, system.lower() or "unknown")


def _parsed(ctx: ProbeContext, what: str, parse: Callable[[str], Any], text: str | None) -> Any:
    """Run a parser; garbled output becomes None and a note."""
    if text is None:
        return None
    try:
        return parse(text)
    except (ValueError, KeyError, TypeError) as exc:
        ctx.notes.append(f"{what}: could not parse the output ({exc})")
        return None


def read_nvidia(ctx: ProbeContext) -> list[GPU]:
    gpus = _parsed(ctx, "nvidia-smi", parse_nvidia_smi, ctx.command(NVIDIA_QUERY))
    return list(gpus or [])


def read_amd(ctx: ProbeContext) -> list[GPU]:
    """rocm-smi when installed, else the amdgpu driver's sysfs VRAM counters."""
    gpus = _parsed(ctx, "rocm-smi", parse_rocm_smi, ctx.command(ROCM_QUERY))
    if gpus:
        return list(gpus)
    return read_amd_sysfs(ctx)


def read_amd_sysfs(ctx: ProbeContext) -> list[GPU]:
    gpus: list[GPU] = []
    for n in range(SYSFS_CARDS):
        base = f"/sys/class/drm/card{n}/device/"
        total = _int_file(ctx, base + "mem_info_vram_total")
        if total is None or (ctx.read(base + "vendor") or "").strip() != "0x1002":
            continue
        used = _int_file(ctx, base + "mem_info_vram_used")
        name = (ctx.read(base + "product_name") or "").strip() or f"AMD GPU (card{n})"
        free = total - used if used is not None else None
        gpus.append(GPU("amd", name, total, free, None, len(gpus)))
    return gpus


def _int_file(ctx: ProbeContext, path: str) -> int | None:
    text = (ctx.read(path) or "").strip()
    return int(text) if text.isdigit() else None


def read_linux(ctx: ProbeContext) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    meminfo = _parsed(ctx, "/proc/meminfo", parse_meminfo, ctx.read("/proc/meminfo"))
    if meminfo:
        facts["ram_total_bytes"], facts["ram_available_bytes"] = meminfo
    else:
        ctx.notes.append("RAM: unknown (/proc/meminfo unreadable)")
    cpu = _parsed(ctx, "/proc/cpuinfo", parse_cpuinfo, ctx.read("/proc/cpuinfo"))
    if cpu:
        facts["cpu_model"], facts["cpu_cores"], facts["cpu_flags"] = cpu
    osrelease = (ctx.read("/proc/sys/kernel/osrelease") or "").lower()
    facts["wsl"] = "microsoft" in osrelease or "WSL_DISTRO_NAME" in ctx.env
    facts["container"] = _in_container(ctx)
    return facts


#: `(ram_total, ram_available, physical_cores)` in bytes and cores; None when unknown
SystemStats = tuple[int | None, int | None, int | None]


def psutil_stats() -> SystemStats:
    """RAM and cores from psutil, for systems without /proc or sysctl (Windows)."""
    memory = psutil.virtual_memory()
    return memory.total, memory.available, psutil.cpu_count(logical=False)


def read_portable(ctx: ProbeContext) -> dict[str, Any]:
    """Windows and other systems: RAM and cores through psutil (no CPU flags there)."""
    try:
        total, available, cores = ctx.stats()
    except Exception as exc:  # the probe never fails: an odd platform is a note
        ctx.notes.append(f"RAM: unknown (psutil: {type(exc).__name__}: {exc})")
        return {}
    if total is None:
        ctx.notes.append("RAM: unknown (psutil could not tell)")
    return {"ram_total_bytes": total, "ram_available_bytes": available, "cpu_cores": cores}


def _in_container(ctx: ProbeContext) -> bool:
    if ctx.read("/.dockerenv") is not None or ctx.read("/run/.containerenv") is not None:
        return True
    if ctx.env.get("container"):
        return True
    cgroup = ctx.read("/proc/1/cgroup") or ""
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "lxc", "podman"))


def read_darwin(ctx: ProbeContext) -> dict[str, Any]:
    """macOS: `sysctl` for RAM, CPU and the Metal limit; `vm_stat` for available RAM."""
    result = ctx.run(("sysctl", *SYSCTL_NAMES), ctx.timeout)  # non-zero for unknown oids
    values = parse_sysctl(result.stdout) if result is not None else {}
    facts: dict[str, Any] = {"gpus": []}
    memsize = values.get("hw.memsize", "")
    if not memsize.isdigit():
        ctx.notes.append("RAM: unknown (sysctl hw.memsize unreadable)")
        return facts
    facts["ram_total_bytes"] = int(memsize)
    facts["ram_available_bytes"] = _parsed(ctx, "vm_stat", parse_vm_stat, ctx.command(("vm_stat",)))
    if facts["ram_available_bytes"] is None:
        ctx.notes.append("RAM available: unknown (vm_stat gave nothing)")
    brand = values.get("machdep.cpu.brand_string") or None
    facts["cpu_model"] = brand
    cores = values.get("hw.physicalcpu") or values.get("hw.ncpu") or ""
    facts["cpu_cores"] = int(cores) if cores.isdigit() else None
    facts["cpu_flags"] = _darwin_flags(values, ctx.machine)
    if ctx.machine.lower() == "arm64":
        wired = values.get("iogpu.wired_limit_mb", "0")
        limit = metal_limit_bytes(int(memsize), int(wired) if wired.isdigit() else 0)
        name = brand or "Apple Silicon"
        facts["gpus"] = [GPU("apple", name, limit, None, "Metal", 0, unified=True)]
    return facts


def _darwin_flags(values: Mapping[str, str], machine: str) -> list[str]:
    if machine.lower() == "arm64":
        return ["neon"]
    words = (
        " ".join(values.get(k, "") for k in ("machdep.cpu.features", "machdep.cpu.leaf7_features"))
        .lower()
        .replace(".", "_")
        .split()
    )
    return [f for f in CPU_FLAGS if f in words]


def ollama_models_dir(env: Mapping[str, str], system: str) -> str:
    """Where Ollama keeps models: `OLLAMA_MODELS`, else the platform default."""
    explicit = env.get("OLLAMA_MODELS", "").strip().strip("\"'")
    if explicit:
        return os.path.expanduser(explicit)
    service = "/usr/share/ollama/.ollama/models"  # the Linux install script's service user
    if system == "Linux" and os.path.isdir(service):
        return service
    home = env.get("USERPROFILE" if system == "Windows" else "HOME") or os.path.expanduser("~")
    return os.path.join(home, ".ollama", "models")


def disk_free_bytes(path: str) -> int | None:
    """Free bytes on the filesystem that holds (or will hold) `path`."""
    current = Path(path)
    for candidate in (current, *current.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None
