"""CPU time by part of a running stack, read from /proc: where each document's cost goes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from embedapp.model import hardware

TICKS = os.sysconf("SC_CLK_TCK")
# Services outside the stack that every document also passes through.
SERVICES = {"rabbitmq": "beam.smp", "redis": "redis-server"}


def machine() -> dict[str, Any]:
    """What a run was measured on: the same figures differ 2x between hosts of one kind."""
    found = hardware.cpu()
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "cpu": found.name,
        "instructions": found.instructions,
    }


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += map(int, children)
        todo += map(int, children)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system CPU of these (live) processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def by_name(command: str) -> list[int]:
    """Processes whose command name is `command`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds each part spends between `start()` and `stop()`."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = {**parts, **{name: by_name(cmd) for name, cmd in SERVICES.items()}}
        self.parts["client (the bench)"] = [os.getpid()]
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: cpu_seconds(pids) for name, pids in self.parts.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pids) - self._before[name] for name, pids in self.parts.items()}
