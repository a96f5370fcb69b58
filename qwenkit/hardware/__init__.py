"""What this machine has — `probe()` → `HardwareProfile` (GPUs, RAM, disk, CPU, the server).

`_sources` parses each source (nvidia-smi, rocm-smi, sysctl, /proc) with a small pure function.
"""

from ._probe import (
    GPU,
    CompletedResult,
    HardwareProfile,
    LoadedModel,
    probe,
    read_text,
    run_command,
)

__all__ = [
    "GPU",
    "CompletedResult",
    "HardwareProfile",
    "LoadedModel",
    "probe",
    "read_text",
    "run_command",
]
