"""What the running gateway answers for what it cannot do."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from embedapp.gateway.app import create_app
from embedapp.queues import STORE_QUEUE
from embedapp.settings import Settings
from tests.integration.conftest import Service
from tests.workers import store_queue_unconsumed

pytestmark = pytest.mark.integration


def test_an_unknown_task_is_404(service: Service) -> None:
    response = service.client.get("/v1/tasks/0b6f3e8e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_an_unknown_document_and_collection_are_404(service: Service, collection: str) -> None:
    assert service.client.get(f"/v1/collections/{collection}").status_code == 404
    response = service.client.get(f"/v1/collections/{collection}/documents/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["error"]["message"]


def test_ready_names_the_workers(service: Service) -> None:
    body = service.client.get("/ready").json()
    assert body["status"] == "ready"
    assert body["checks"]["broker"] == body["checks"]["result_backend"] == "ok"
    assert {name.split("@")[0] for name in body["checks"]["workers"]} >= {
        "bulk",
        "interactive",
        "store",
    }


def test_ready_is_503_while_a_queue_has_no_consumer(service: Service) -> None:
    with store_queue_unconsumed(service.client):
        # Every worker still answers pings; nobody takes the store queue.
        deadline = time.monotonic() + 30
        while (answer := service.client.get("/ready")).status_code != 503:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.5)
        assert answer.json()["checks"]["consumers"][STORE_QUEUE] == 0
    deadline = time.monotonic() + 30
    while (answer := service.client.get("/ready")).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)


def test_a_job_the_workers_refuse_ends_failed_with_the_reason(
    service: Service, collection: str
) -> None:
    # A gateway configured for a model the workers do not serve: the job must not vanish.
    settings = Settings(model_name="some-other-model")
    with TestClient(create_app(settings)) as gateway:
        response = gateway.post(
            f"/v1/collections/{collection}/documents", json={"documents": [{"text": "hello"}]}
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
    status = service.wait_for(task_id)
    assert status["state"] == "failed"
    assert "some-other-model" in status["error"]
    assert service.client.get(f"/v1/collections/{collection}").status_code == 404
