"""`embedapp bench soak`: ingest while killing embed worker children, then count."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import subprocess
import threading
import time
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from embedapp.bench.inprocess import ingest_all
from embedapp.celery_app import celery_app
from embedapp.queues import connection_errors


def _kill_children(stop: threading.Event, *, every_s: float, kills: int, killed: list[int]) -> None:
    """SIGKILL a random embed worker child every `every_s` seconds (same machine only)."""
    rng = random.Random(0)
    while len(killed) < kills and not stop.wait(every_s):
        try:
            stats = celery_app.control.inspect(timeout=1.0).stats() or {}
        except connection_errors(celery_app.conf.broker_url):
            continue  # RabbitMQ is restarting (--restart-broker-after): the next round

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


def _restart_broker(
    stop: threading.Event, *, node: str | None, after_s: float, down_s: float, done: list[float]
) -> None:
    """Stop a RabbitMQ node's app `after_s` into the run and start it `down_s` later (a node
    of this machine, through rabbitmqctl): with one node its durable queues and persistent
    messages must survive; in a cluster, quorum queues must go on without it."""
    if stop.wait(after_s):
        return
    ctl = ["rabbitmqctl", *(["-n", node] if node else [])]
    subprocess.run([*ctl, "stop_app"], check=True, capture_output=True, timeout=120)
    time.sleep(down_s)
    subprocess.run([*ctl, "start_app"], check=True, capture_output=True, timeout=120)
    done.append(down_s)


def soak(
    url: str,
    documents: list[dict[str, str]],
    *,
    batch: int,
    kill_every_s: float,
    kills: int,
    restart_broker_after_s: float | None,
    console: Console,
    broker_node: str | None = None,
    max_s: float = 300.0,
) -> dict[str, Any]:
    """Ingest while killing embed worker children (and restarting RabbitMQ once, if asked),
    until all of that happened or `max_s` passed; then compare accepted with stored."""
    collection = f"soak-{int(time.time())}"
    killed: list[int] = []
    restarts: list[float] = []
    stop = threading.Event()
    chaos = [
        threading.Thread(
            target=_kill_children,
            args=(stop,),
            kwargs={"every_s": kill_every_s, "kills": kills, "killed": killed},
        )
    ]
    if restart_broker_after_s is not None:
        chaos.append(
            threading.Thread(
                target=_restart_broker,
                args=(stop,),
                kwargs={
                    "node": broker_node,
                    "after_s": restart_broker_after_s,
                    "down_s": 10.0,
                    "done": restarts,
                },
            )
        )
    started = time.monotonic()
    states: dict[str, str] = {}
    sent: set[str] = set()
    with httpx.Client(base_url=url, timeout=300) as client:
        for thread in chaos:
            thread.start()
        # Round after round (the same texts under new ids) until every planned kill and
        # restart has happened: on a fast machine one round can end before the first.
        for round_ in itertools.count():
            suffix = f"-r{round_}" if round_ else ""
            ids = [{**d, "id": f"{d['id']}{suffix}"} for d in documents]
            states |= ingest_all(client, collection, ids, batch)
            sent |= {d["id"] for d in ids}
            chaos_left = any(thread.is_alive() for thread in chaos)
            if not chaos_left or time.monotonic() - started > max_s:
                break
        stop.set()
        for thread in chaos:
            thread.join()
        points = client.get(f"/v1/collections/{collection}").json()["points"]
    accepted = len(sent)
    result = {
        "accepted": accepted,
        "stored": points,
        "lost": max(0, accepted - points),
        "duplicates": max(0, points - accepted),
        "kills": len(killed),
        "broker_restarts": len(restarts),
        "failed_jobs": sum(s == "failed" for s in states.values()),
        "jobs": len(states),
        "documents_sent": len(sent),
        "seconds": time.monotonic() - started,
    }
    title = f"soak: {len(killed)} embed children SIGKILLed, RabbitMQ restarted {len(restarts)}x"
    table = Table(title=title)
    columns = (
        "accepted",
        "stored",
        "lost",
        "duplicates",
        "kills",
        "broker_restarts",
        "failed_jobs",
    )
    for column in (*columns, "seconds"):
        table.add_column(column.replace("_", " "), justify="right")
    table.add_row(*(str(result[k]) for k in columns), f"{result['seconds']:.0f}")
    console.print(table)
    return result
