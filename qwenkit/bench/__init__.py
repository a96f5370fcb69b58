"""`qwenkit bench`: how fast this setup is, measured against the physical limit.

```python
import qwenkit.bench

result = qwenkit.bench.run("qwenkit-chat", concurrency=[1, 2, 4])
print(result.capacity, result.decode_tps, result.ceiling)
```

Layers, from the wire up: `endpoints`/`openai` stream and time one request; `runner`
calibrates prompts (`prompts`) and sweeps concurrency levels; `session` does the I/O around
it (model facts, `/api/ps`, the probe); `limits` sets the result against the decode
`ceiling`, the planner's memory estimate and the queueing fix; `stats` holds the pure
arithmetic; `report` and `plot` render.
"""

from __future__ import annotations

from .result import BenchResult, Level, Memory, Queueing, Sample, result_from_dict
from .runner import DEFAULT_CONCURRENCY, DEFAULT_MODEL, Settings
from .session import run
from .stats import Spread, Target

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MODEL",
    "BenchResult",
    "Level",
    "Memory",
    "Queueing",
    "Sample",
    "Settings",
    "Spread",
    "Target",
    "result_from_dict",
    "run",
]
