"""SIGTERM to `embedapp serve` drains: the worker busy with a job finishes it (no child
killed mid-task), and what the job left queued is stored by the next start."""

from __future__ import annotations

import re
import signal
import time
import uuid

import pytest

from embedapp.settings import Settings
from tests.integration.conftest import _serve, _vhost

pytestmark = pytest.mark.integration

DOCUMENTS = 150


def test_sigterm_lets_serve_finish_the_job_it_holds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = {
        "broker_url": _vhost(Settings(), "embedapp-drain"),
        "result_backend": "redis://127.0.0.1:6379/2",
    }
    # A name of its own: the hash index (in Redis, which outlives the run) must not know
    # these documents, or the job is a quick pass plus a second one (worker/store.py).
    collection = f"drained-{uuid.uuid4().hex[:8]}"
    documents = [
        {"id": f"d{i}", "text": f"document {i} of the drained job " * 12} for i in range(DOCUMENTS)
    ]
    with _serve(tmp_path, concurrency=1, empty_after=False, **settings) as first:
        task_id = first.ingest(collection, documents)["task_id"]
        deadline = time.monotonic() + 60
        while not re.search(r"embed_documents\[[^]]+\] received", first.log_text()):
            assert time.monotonic() < deadline, first.log_text()[-3000:]
            time.sleep(0.05)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=120) == 0
        log = first.log_text()
    # On a failure, the end of the log holds the stacks of a worker that overstayed.
    assert re.search(r"embed_documents\[[^]]+\] succeeded", log), log[-12000:]
    for killed in ("WorkerLostError", "exited prematurely", "did not stop in time"):
        assert killed not in log, log[-12000:]

    # Its store task waited in RabbitMQ (or was stored before the store worker stopped).
    with _serve(tmp_path, concurrency=1, empty_before=False, **settings) as second:
        assert second.wait_for(task_id)["state"] == "stored"
        assert second.client.get(f"/v1/collections/{collection}").json()["points"] == DOCUMENTS
