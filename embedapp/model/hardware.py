"""The CPU this process runs on, as /proc/cpuinfo names it: what measured figures depend on
(a benchmark's, the precision a worker child measured, the int8 kernels that fit).

No torch here: the benchmarks read it without loading a model.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import re
from dataclasses import dataclass
from pathlib import Path

# The instructions the model's speed depends on most (bfloat16 is fast only with the last three).
INSTRUCTIONS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class Cpu:
    name: str
    flags: frozenset[str]

    @property
    def instructions(self) -> list[str]:
        return [name for name in INSTRUCTIONS if name in self.flags]


@functools.cache
def cpu() -> Cpu:
    info = ""
    with contextlib.suppress(OSError):
        info = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.MULTILINE)
    return Cpu(
        name=model.group(1).strip() if model else platform.processor() or platform.machine(),
        flags=frozenset(flags.group(1).split()) if flags else frozenset(),
    )
