"""Redis or RabbitMQ away: clear 503s, ingest kept where it can be, recovery on their own."""

from __future__ import annotations

import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from embedapp.gateway.app import create_app
from embedapp.settings import Settings
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration


def _docs(prefix: str, n: int = 20) -> list[dict[str, str]]:
    return [{"id": f"{prefix}-{i}", "text": f"{prefix} text {i}"} for i in range(n)]


def test_with_redis_away_ingest_is_accepted_and_task_state_is_503(
    service: Service, collection: str
) -> None:
    # This gateway's Redis is unreachable; RabbitMQ and the workers are fine.
    settings = Settings(result_backend="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as gateway:
        accepted = gateway.post(
            f"/v1/collections/{collection}/documents", json={"documents": _docs("redis-away")}
        )
        assert accepted.status_code == 202, accepted.text
        task_id = accepted.json()["task_id"]
        status = gateway.get(f"/v1/tasks/{task_id}")
        assert status.status_code == 503
        assert "Redis" in status.json()["error"]["message"]
        assert gateway.get("/ready").status_code == 503
    # The job itself was never at risk: it went through RabbitMQ to the workers.
    service.wait_for(task_id, until=lambda s: s.get("state") == "stored")
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 20


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def test_a_broker_restart_loses_nothing_and_the_gateway_recovers(
    service: Service, collection: str
) -> None:
    before = service.ingest(collection, _docs("before", 200))["task_id"]
    _rabbitmqctl("stop_app")
    try:
        refused = service.client.post(
            f"/v1/collections/{collection}/documents", json={"documents": _docs("during")}
        )
        assert refused.status_code == 503
        assert "broker" in refused.json()["error"]["message"]
    finally:
        _rabbitmqctl("start_app")

    deadline = time.monotonic() + 120
    while (
        after := service.client.post(
            f"/v1/collections/{collection}/documents", json={"documents": _docs("after")}
        )
    ).status_code != 202:
        assert after.status_code == 503 and time.monotonic() < deadline, after.text
        time.sleep(1)
    for task_id in (before, after.json()["task_id"]):
        service.wait_for(task_id, until=lambda s: s["state"] == "stored", timeout=300)
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 220
    missing = service.client.get(f"/v1/collections/{collection}/documents/during-0")
    assert missing.status_code == 404


def _memory_alarm(on: bool) -> None:
    """RabbitMQ's memory alarm, which blocks every publishing connection until it clears."""
    if on:
        _rabbitmqctl("set_vm_memory_high_watermark", "absolute", "1")
    else:
        _rabbitmqctl("set_vm_memory_high_watermark", "0.4")
    deadline = time.monotonic() + 60
    while _alarms_raised() != on:  # the node's own word (the management API lags seconds)
        assert time.monotonic() < deadline, f"memory alarm not {'raised' if on else 'cleared'}"
        time.sleep(0.5)


def _alarms_raised() -> bool:
    found = subprocess.run(
        ["rabbitmqctl", "eval", "rabbit_alarm:get_alarms()."],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "memory" in found.stdout


def test_a_blocked_broker_is_a_503_within_seconds_and_health_keeps_answering(
    service: Service, collection: str
) -> None:
    _memory_alarm(on=True)
    try:
        started = time.monotonic()
        refused = service.client.post(
            f"/v1/collections/{collection}/documents", json={"documents": _docs("blocked", 1)}
        )
        took = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert "did not confirm" in refused.json()["error"]["message"]
        assert refused.headers["Retry-After"]
        assert service.client.get("/health").status_code == 200
    finally:
        _memory_alarm(on=False)
    # Before, the publish waited for as long as the alarm lasted, holding the request and a
    # thread; now it gives up after its confirm timeouts (2 tries of 2 s, plus closing).
    assert took < 15, took
    accepted = service.ingest(collection, _docs("unblocked", 3))
    assert service.wait_for(accepted["task_id"])["state"] == "stored"
