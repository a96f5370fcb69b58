"""What this machine has — `probe()` → `HardwareProfile` (GPUs, RAM, disk, CPU, the server).

`_sources` parses each source (nvidia-smi, rocm-smi, sysctl, /proc) with a small pure function;
`_profile` holds the values, `_probe` the I/O (commands with timeouts, files, the server).
"""

from ._probe import probe, read_text, run_command
from ._profile import GPU, CompletedResult, HardwareProfile, LoadedModel

__all__ = [
    "GPU",
    "CompletedResult",
    "HardwareProfile",
    "LoadedModel",
    "probe",
    "read_text",
    "run_command",
]
