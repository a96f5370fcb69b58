"""The measured numbers behind the memory model, in one table to recalibrate from.

`_memory` computes each buffer from the model's shapes the way llama.cpp allocates it; the
figures here say how far to trust that on each kind of device and what the server keeps
free. Everything on the CPU row was measured (Ollama 0.32.15 / llama.cpp b10488, CPU
backend, `hardware-fit.md` §9 and the grid in `tests/test_memory_model.py`): the formulas
match every buffer llama-server logged to within 0.1 MiB, except the compute buffer without
flash attention below 2K tokens, which they overstate by 5 MiB. No GPU has been measured
yet: until one is, GPUs get the CPU figures times a stated margin. To recalibrate, load a
model on the device, read llama-server's `… compute buffer size` lines from Ollama's log
(or `/api/ps` `size`) and change the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..catalog import MiB


@dataclass(frozen=True)
class DeviceTerms:
    """How one kind of device differs from the CPU-measured model."""

    compute_factor: Fraction  # × the compute buffer llama.cpp's graph allocator needs on a CPU
    compute_extra: int  # bytes beyond it: host-side input copies, kernel scratch pools
    measured: bool

    def compute(self, cpu_bytes: int) -> int:
        return int(cpu_bytes * self.compute_factor) + self.compute_extra


DEVICES: dict[str, DeviceTerms] = {
    "cpu": DeviceTerms(Fraction(1), 0, measured=True),
    # CUDA/ROCm/Metal run the same graph through the same allocator (ggml-alloc.c) and keep
    # the inputs in a host buffer; kernel scratch comes from pools no log line reports,
    # which the server's reserve below is for. A quarter more, until a GPU is measured.
    "gpu": DeviceTerms(Fraction(5, 4), 0, measured=False),
}

#: What the server keeps free on each GPU. From 0.30 llama-server's `--fit` places the
#: layers and leaves `fit_params_target` free (llama.cpp `common/common.h:473`, 1024 MiB);
#: before, Ollama's own estimator kept `MinimumMemory()` (`ml/device.go:359`).
GPU_RESERVE_LLAMA_SERVER = 1024 * MiB
GPU_RESERVE_OLLAMA = {"apple": 512 * MiB}
GPU_RESERVE_OLLAMA_DEFAULT = 457 * MiB

#: What a discrete GPU loses before the server even starts: the driver's context, a desktop
#: compositor. Together with Ollama's old 457 MiB this was the 1 GiB of `hardware-fit.md`
#: §6.1. When the probe knows the free memory, what other programs use counts instead
#: (plus `FRAGMENTATION`), whichever is more.
DRIVER_MARGIN = 1024 * MiB - GPU_RESERVE_OLLAMA_DEFAULT
FRAGMENTATION = 128 * MiB
