"""`embedapp bench soak`: ingest while killing embed worker children, then count."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from embedapp.bench.inprocess import ingest_all
from embedapp.celery_app import celery_app


def _kill_children(stop: threading.Event, *, every_s: float, kills: int, killed: list[int]) -> None:
    """SIGKILL a random embed worker child every `every_s` seconds (same machine only)."""
    rng = random.Random(0)
    while len(killed) < kills and not stop.wait(every_s):
        stats = celery_app.control.inspect(timeout=1.0).stats() or {}
        pids = [
            pid
            for node, info in stats.items()
            if not node.startswith("store@") and not node.startswith("interactive@")
            for pid in info.get("pool", {}).get("processes", [])
        ]
        if pids:
            pid = rng.choice(pids)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)


def soak(
    url: str,
    documents: list[dict[str, str]],
    *,
    batch: int,
    kill_every_s: float,
    kills: int,
    console: Console,
) -> dict[str, Any]:
    """Ingest while killing embed worker children; then compare accepted with stored."""
    collection = f"soak-{int(time.time())}"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_children,
        args=(stop,),
        kwargs={"every_s": kill_every_s, "kills": kills, "killed": killed},
    )
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=300) as client:
        killer.start()
        states = ingest_all(client, collection, documents, batch)
        stop.set()
        killer.join()
        points = client.get(f"/v1/collections/{collection}").json()["points"]
    accepted = len({d["id"] for d in documents})
    result = {
        "accepted": accepted,
        "stored": points,
        "lost": max(0, accepted - points),
        "duplicates": max(0, points - accepted),
        "kills": len(killed),
        "failed_jobs": sum(s == "failed" for s in states.values()),
        "jobs": len(states),
        "seconds": time.monotonic() - started,
    }
    table = Table(title=f"soak: {len(killed)} embed children SIGKILLed while ingesting")
    for column in ("accepted", "stored", "lost", "duplicates", "kills", "failed jobs", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            str(result[k])
            for k in ("accepted", "stored", "lost", "duplicates", "kills", "failed_jobs")
        ),
        f"{result['seconds']:.0f}",
    )
    console.print(table)
    return result
