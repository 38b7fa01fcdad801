"""CPU time by part, read from /proc."""

from __future__ import annotations

import subprocess
import sys
import time

from embedapp.bench import cpu


def test_a_busy_part_is_charged_and_an_idle_one_is_not() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen(["sleep", "30"])
    try:
        meter = cpu.CpuMeter({"busy": [busy.pid], "idle": [idle.pid]})
        meter.start()
        started = cpu.cpu_seconds([busy.pid])
        # Until the busy part has run 0.3 s of CPU, however long that takes on cores shared
        # with other tests (a second of wall time once gave it only 0.09 s).
        deadline = time.monotonic() + 60
        while cpu.cpu_seconds([busy.pid]) - started < 0.3:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        spent = meter.stop()
    finally:
        busy.kill()
        idle.kill()
    assert spent["busy"] >= 0.3 and spent["idle"] < 0.05
    assert {"rabbitmq", "redis", "client (the bench)"} <= set(spent)
    assert cpu.by_name("redis-server"), "Redis runs for the tests: it must be found by name"


def test_descendants_are_found_through_every_generation() -> None:
    parent = subprocess.Popen(["bash", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 5
        while len(cpu.descendants(parent.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for pid in cpu.descendants(parent.pid):
            subprocess.run(["kill", str(pid)], check=False)
        parent.kill()
