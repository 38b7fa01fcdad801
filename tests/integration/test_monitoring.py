"""What operators watch: Flower's API (workers, tasks, queues) and the Prometheus metrics
of the gateway and of each worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from embedapp.queues import BULK_QUEUE, INTERACTIVE_QUEUE
from embedapp.settings import Settings
from tests.integration.conftest import Service
from tests.metrics_text import scrape, value

pytestmark = pytest.mark.integration

DOCUMENTS = 20


def _poll(fetch: Callable[[], Any], holds: Callable[[Any], bool], what: str) -> Any:
    """Flower learns of workers and tasks from events: give them a few seconds to arrive."""
    deadline = time.monotonic() + 30
    while True:
        found = fetch()
        if holds(found):
            return found
        assert time.monotonic() < deadline, f"{what}; last seen: {found}"
        time.sleep(0.5)


def _flower(service: Service, path: str) -> Any:
    response = httpx.get(f"{service.flower_url}{path}", auth=service.flower_auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_flower_lists_the_workers_a_task_and_the_embed_queues(
    service: Service, collection: str
) -> None:
    job = service.ingest(collection, [{"id": f"f{i}", "text": f"flower {i}"} for i in range(3)])
    assert service.wait_for(job["task_id"])["state"] == "stored"

    workers = _poll(
        lambda: _flower(service, "/api/workers?refresh=1"),
        lambda found: {name.split("@")[0] for name in found} >= {"bulk", "interactive", "store"},
        "Flower does not list serve's three workers",
    )
    assert workers

    # The chain's last task carries the job id; its first shows readable arguments.
    tasks = _poll(
        lambda: _flower(service, "/api/tasks"),
        lambda found: (
            found.get(job["task_id"], {}).get("state") == "SUCCESS"
            and any(job["task_id"] in (t.get("args") or "") for t in found.values())
        ),
        "Flower does not list the test's job",
    )
    assert tasks[job["task_id"]]["name"] == "embedapp.store.upsert"
    embed = next(t for t in tasks.values() if job["task_id"] in (t.get("args") or ""))
    assert embed["name"] == "embedapp.embed_documents"
    assert embed["args"] == f"3 documents for '{collection}' (job {job['task_id']})"
    # Vectors never reach Flower: not in arguments, not in results.
    assert not any(
        "vector_b64" in str(t.get("args")) + str(t.get("result")) for t in tasks.values()
    )

    queues = _poll(
        lambda: _flower(service, "/api/queues/length")["active_queues"],
        lambda found: {q["name"] for q in found} >= {BULK_QUEUE, INTERACTIVE_QUEUE},
        "Flower's broker view (RabbitMQ's management API) does not report the embed queues",
    )
    assert all(isinstance(q["messages"], int) for q in queues)


def test_metrics_count_an_ingest_in_the_gateway_and_in_the_workers(
    service: Service, collection: str
) -> None:
    gateway = f"{service.url}/metrics"
    worker = {
        name: f"http://127.0.0.1:{port}/metrics" for name, port in service.metrics_ports.items()
    }
    before = {name: scrape(url) for name, url in worker.items()}

    job = service.ingest(
        collection, [{"id": f"m{i}", "text": f"metrics document {i}"} for i in range(DOCUMENTS)]
    )
    assert service.wait_for(job["task_id"])["state"] == "stored"
    assert (
        service.client.post(
            "/v1/embeddings", json={"input": "a query", "model": Settings().model_id}
        ).status_code
        == 200
    )

    seen = scrape(gateway)
    route = "/v1/collections/{collection}/documents"
    assert (
        value(seen, "embedapp_http_requests_total", method="POST", route=route, status="202") >= 1
    )
    assert value(seen, "embedapp_publish_seconds_count", task="embedapp.embed_documents") >= 1
    assert value(seen, "embedapp_publish_seconds_count", task="embedapp.embed_texts") >= 1
    for reason in ("queue_full", "broker_unavailable"):
        assert ("embedapp_publish_rejected_total", frozenset({("reason", reason)})) in seen
    for queue in (BULK_QUEUE, INTERACTIVE_QUEUE):
        assert value(seen, "embedapp_queue_consumers", queue=queue) >= 1
        assert ("embedapp_queue_messages", frozenset({("queue", queue)})) in seen
    assert value(seen, "embedapp_broker_up") == 1

    after = {name: scrape(url) for name, url in worker.items()}

    def grew(name: str, sample: str, **labels: str) -> float:
        return value(after[name], sample, **labels) - value(before[name], sample, **labels)

    # Both prefork children write into the one exporter of their worker.
    assert grew("bulk", "embedapp_documents_embedded_total") == DOCUMENTS
    assert grew("bulk", "embedapp_texts_embedded_total") == DOCUMENTS
    assert grew("bulk", "embedapp_model_batch_size_count") >= 1
    assert grew("bulk", "embedapp_inference_seconds_sum") > 0
    assert grew("interactive", "embedapp_texts_embedded_total") >= 1
    assert grew("store", "embedapp_points_stored_total") == DOCUMENTS
    assert grew("store", "embedapp_store_upsert_seconds_count") >= 1
