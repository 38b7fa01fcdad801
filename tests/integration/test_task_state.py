"""Task state stays small: once a job is stored, Redis keeps its outcome, not its texts or
vectors (they travel in the messages, and the store keeps them)."""

from __future__ import annotations

import pytest
import redis

from embedapp.settings import Settings
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

# The whole budget for one stored job's task records, whatever its size.
JOB_BYTES = 5_000


def test_a_stored_job_of_500_documents_leaves_a_few_kb_in_redis(
    service: Service, collection: str
) -> None:
    client = redis.Redis.from_url(Settings().result_backend)
    before = set(client.scan_iter("celery-task-meta-*"))
    documents = [
        {"id": f"doc-{i}", "text": f"private text number {i}: " + "some words " * 40}
        for i in range(500)
    ]
    task_id = service.ingest(collection, documents)["task_id"]
    assert service.wait_for(task_id, timeout=300)["state"] == "stored"

    records = {key: client.get(key) for key in set(client.scan_iter("celery-task-meta-*")) - before}
    mine = {key: value for key, value in records.items() if value and collection.encode() in value}
    assert f"celery-task-meta-{task_id}".encode() in mine
    sizes = {key: client.memory_usage(key) or 0 for key in mine}
    assert sum(sizes.values()) <= JOB_BYTES, sizes
    assert not any(b"private text" in value for value in mine.values())
