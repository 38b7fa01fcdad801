"""SIGTERM to a worker: it finishes what it holds, and nothing accepted is lost."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import Service
from tests.workers import active_tasks

pytestmark = pytest.mark.integration


def test_sigterm_lets_a_worker_finish_its_batch(
    service: Service, collection: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # The README's command for another embed worker (its node: celery@host), logging at INFO
    # to show its children loading the model.
    node = f"celery@{socket.gethostname()}"
    log = tmp_path / "extra.log"
    with log.open("wb") as sink:
        extra = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "embedapp",
                "worker",
                "--concurrency",
                "2",
                "-l",
                "INFO",
            ],
            env=service.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        # Without -Q it serves both embed queues (never `store`), one model per child.
        while log.read_text().count("serves embed.interactive,embed.bulk") < 2:
            assert extra.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        jobs = [
            service.ingest(
                collection,
                [{"id": f"{j}-{i}", "text": f"job {j} text {i} " * 20} for i in range(150)],
            )["task_id"]
            for j in range(6)
        ]
        while not active_tasks(destination=[node]).get(node):
            assert time.monotonic() < deadline, "the extra worker never took a job"
        extra.send_signal(signal.SIGTERM)  # warm shutdown: finish, then exit
        assert extra.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if extra.poll() is None:
            extra.kill()
    assert "succeeded" in log.read_text()  # it finished the batch it held
    assert "Task embedapp.store." not in log.read_text()  # the store queue is not its to serve
    for task_id in jobs:
        assert service.wait_for(task_id, timeout=300)["state"] == "stored"
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 900
