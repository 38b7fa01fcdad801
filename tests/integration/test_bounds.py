"""Every queue bounded, and the bounds changeable: embed queues refuse past a RabbitMQ policy
that workers set (changed without deleting the queue or its jobs), and ingest is refused
with 429 while the store worker lags."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from kombu import Connection, Producer

from embedapp import policies
from embedapp.gateway.app import create_app
from embedapp.queues import BULK_QUEUE, INTERACTIVE_QUEUE, STORE_QUEUE, task_queues
from embedapp.settings import Settings
from tests.integration.conftest import Service, _vhost
from tests.workers import store_queue_unconsumed

pytestmark = pytest.mark.integration

VHOST = "embedapp-bounds"


@pytest.fixture
def broker() -> Iterator[Settings]:
    """Settings for a virtual host of its own, emptied first (policies live per host)."""
    url = _vhost(Settings(), VHOST)
    settings = Settings(broker_url=url)
    with Connection(url) as connection:
        for queue in (BULK_QUEUE, INTERACTIVE_QUEUE, STORE_QUEUE):
            connection.default_channel.queue_delete(queue)
    yield settings


def _api(settings: Settings, path: str) -> httpx.Response:
    return httpx.get(f"{settings.management_api_url.rstrip('/')}{path}", timeout=10)


def _effective(settings: Settings, queue: str) -> dict:
    return _api(settings, f"/queues/{VHOST}/{queue}").json().get("effective_policy_definition")


def _apply(settings: Settings, bound: int) -> None:
    changed = settings.model_copy(update={"queue_max_length": bound})
    policies.apply(changed)
    deadline = time.monotonic() + 10  # RabbitMQ applies a policy to its queues in the background
    while _effective(settings, BULK_QUEUE) != policies.bounded(bound):
        assert time.monotonic() < deadline, _effective(settings, BULK_QUEUE)
        time.sleep(0.1)


def _publish(settings: Settings, count: int) -> int:
    """Publish with confirms; how many RabbitMQ took."""
    taken = 0
    with Connection(settings.broker_url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel)  # the default exchange: by queue name
        for _ in range(count):
            try:
                producer.publish({"n": taken}, routing_key=BULK_QUEUE)
                taken += 1
            except Exception as exc:  # a nack: the queue is full
                assert "nack" in repr(exc).lower() or "Nacked" in type(exc).__name__, exc
    return taken


def _messages(settings: Settings) -> int:
    with Connection(settings.broker_url) as connection:
        return connection.default_channel.queue_declare(BULK_QUEUE, passive=True).message_count


def test_a_bound_changes_without_deleting_the_queue_or_its_jobs(broker: Settings) -> None:
    with Connection(broker.broker_url) as connection:
        for queue in task_queues(broker):
            queue(connection.default_channel).declare()
    _apply(broker, 3)
    assert _publish(broker, 5) == 3
    _apply(broker, 5)  # raised: the three waiting jobs stay
    assert _publish(broker, 5) == 2
    assert _messages(broker) == 5
    assert _effective(broker, INTERACTIVE_QUEUE) == policies.bounded(
        broker.interactive_queue_max_length
    )


def test_a_queue_an_older_embedapp_declared_with_a_fixed_bound_is_declared_again(
    broker: Settings,
) -> None:
    older = {"x-max-length": 7, "x-overflow": "reject-publish"}
    with Connection(broker.broker_url) as connection:
        connection.default_channel.queue_declare(BULK_QUEUE, durable=True, arguments=older)
    assert _publish(broker, 1) == 1
    with pytest.raises(policies.PolicyError, match="still holds jobs"):
        policies.apply(broker)  # never deletes a job
    with Connection(broker.broker_url) as connection:
        connection.default_channel.queue_purge(BULK_QUEUE)
    policies.apply(broker)  # empty: deleted, and declared again by the next worker
    assert _api(broker, f"/queues/{VHOST}/{quote(BULK_QUEUE)}").status_code == 404


def test_the_services_workers_set_the_bounds(service: Service) -> None:
    settings = Settings()
    api = settings.management_api_url.rstrip("/")
    for queue, bound in policies.bounds(settings).items():
        found = httpx.get(f"{api}/queues/%2F/{queue}", timeout=10).json()
        assert found["effective_policy_definition"] == policies.bounded(bound), queue
        assert "x-max-length" not in found["arguments"]


def test_ingest_is_refused_while_the_store_worker_lags(service: Service, collection: str) -> None:
    accepted: list[str] = []
    with (
        store_queue_unconsumed(service.client),
        TestClient(create_app(Settings(store_queue_max_length=2))) as gateway,
    ):
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "the store queue never reached its bound"
            response = gateway.post(
                f"/v1/collections/{collection}/documents",
                json={"documents": [{"id": f"d{len(accepted)}", "text": "a document"}]},
            )
            if response.status_code == 429:
                break
            assert response.status_code == 202, response.text
            accepted.append(response.json()["task_id"])
            time.sleep(0.5)  # embedded meanwhile, then waiting in `store`
        error = response.json()["error"]
        assert "EMBEDAPP_STORE_QUEUE_MAX_LENGTH" in error["message"], error
        assert int(response.headers["Retry-After"]) > 0
    assert len(accepted) >= 2
    for task_id in accepted:  # what was accepted is stored once the store catches up
        assert service.wait_for(task_id)["state"] == "stored"
    points = service.client.get(f"/v1/collections/{collection}").json()["points"]
    assert points == len(accepted)
