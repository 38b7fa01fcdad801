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
        time.sleep(1.0)
        spent = meter.stop()
    finally:
        busy.kill()
        idle.kill()
    assert spent["busy"] > 0.1 and spent["idle"] < 0.05
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
