"""A child killed mid-batch loses nothing; one killed every time ends in the dead-letter queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from kombu import Connection

from embedapp import queues
from embedapp.cli import dead_letters
from embedapp.settings import Settings
from tests.integration.conftest import Service
from tests.procs import alive
from tests.workers import active_tasks

pytestmark = pytest.mark.integration

# Each try must outlast the seconds it takes to find its child and kill it (an inspect
# round trip or more): at 500 texts of ~65 tokens a try took 2.0 s on a CPU with AMX, and
# one in five succeeded before its kill. Texts of ~230 tokens (the model's window is 256),
# in one job (larger ones are split).
POISON_DOCS = 500


def _docs(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "text": f"{prefix} document {i}: " + "some words " * 110}
        for i in range(n)
    ]


def _child_embedding(job_id: str, timeout: float = 120) -> int:
    """The pid of the bulk worker child running this job's embed task."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for tasks in active_tasks().values():
            for task in tasks:
                if task["name"] == queues.EMBED_DOCUMENTS and job_id in task["args"]:
                    return int(task["worker_pid"])
    raise AssertionError(f"no child picked up job {job_id} in {timeout} s")


def _dead_letters_of(job_id: str, *, wait: bool = False) -> list[dead_letters.DeadLetter]:
    # The job reads `failed` a moment before the worker's reject dead-letters its message.
    deadline = time.monotonic() + (30 if wait else 0)
    while True:
        with Connection(Settings().broker_url) as connection:
            found = [d for d in dead_letters.peek(connection, Settings()) if d.job_id == job_id]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def test_a_child_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    service: Service, collection: str
) -> None:
    task_id = service.ingest(collection, _docs(300, "kill"))["task_id"]
    service.wait_for(task_id, until=lambda s: s["state"] == "embedding" and s["done"] > 0)
    os.kill(_child_embedding(task_id), signal.SIGKILL)

    status = service.wait_for(task_id, timeout=300)
    assert status["state"] == "stored" and status["stored"] == 300
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 300


def test_a_job_that_kills_its_child_every_time_is_dead_lettered_then_replayed(
    service: Service, collection: str
) -> None:
    # A job long enough (seconds per try) that each try is killed before it can finish.
    task_id = service.ingest(collection, _docs(POISON_DOCS, "poison"))["task_id"]
    killed: set[int] = set()
    deadline = time.monotonic() + 240
    while service.client.get(f"/v1/tasks/{task_id}").json()["state"] != "failed":
        assert len(killed) <= 4, "retries are not bounded"
        assert time.monotonic() < deadline, f"the job never failed; {len(killed)} children killed"
        try:
            pid = _child_embedding(task_id, timeout=30)
        except AssertionError:
            continue  # between tries, or already failed
        if pid not in killed and alive(pid):  # the worker may still list a dead child
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
    status = service.client.get(f"/v1/tasks/{task_id}").json()
    assert len(killed) == 4  # the first try and three retries
    assert "WorkerLostError" in status["error"]

    letters = _dead_letters_of(task_id, wait=True)
    assert len(letters) == 1
    assert (letters[0].task, letters[0].collection, letters[0].documents) == (
        queues.EMBED_DOCUMENTS,
        collection,
        POISON_DOCS,
    )

    listing = subprocess.run(
        [sys.executable, "-m", "embedapp", "dlq", "list"],
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0 and task_id in listing.stdout

    # The cause is gone (nobody kills children now): replay, and the job completes.
    replay = subprocess.run(
        [sys.executable, "-m", "embedapp", "dlq", "replay", letters[0].task_id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0 and "1 replayed" in replay.stderr
    # Until the replayed message runs, the job still reads `failed`.
    service.wait_for(task_id, until=lambda s: s["state"] == "stored", timeout=180)
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == POISON_DOCS
    assert not _dead_letters_of(task_id)
