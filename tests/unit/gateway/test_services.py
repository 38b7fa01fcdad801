"""A big ingest request becomes several jobs, followed by one id; a refusal part-way says
what was queued."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from celery import states
from celery.canvas import Signature

from embedapp import jobs
from embedapp.celery_app import celery_app
from embedapp.errors import GatewayTimeoutError, QueueFullError
from embedapp.gateway.metrics import GatewayMetrics
from embedapp.gateway.services import Services
from embedapp.messages import DocumentIn
from embedapp.settings import Settings


class FakeClock:
    """Stamps in acceptance order."""

    def __init__(self) -> None:
        self.last = 0

    async def stamp(self) -> int:
        self.last += 1
        return self.last


class FakeResults:
    """The result backend: what the gateway records and forgets."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, dict[str, Any]]] = {}

    async def record(self, task_id: str, state: str, info: dict[str, Any]) -> bool:
        self.records[task_id] = (state, info)
        return True

    async def forget(self, task_id: str) -> None:
        self.records.pop(task_id, None)


def _services(refuse_after: int | None = None) -> tuple[Services, FakeResults, list[dict]]:
    settings = Settings(_env_file=None, max_job_documents=4)
    results = FakeResults()
    services = Services(
        settings=settings,
        celery=celery_app,
        results=results,  # type: ignore[arg-type]
        metrics=GatewayMetrics(settings, []),
        clock=FakeClock(),  # type: ignore[arg-type]
    )
    published: list[dict[str, Any]] = []

    async def publish(signature: Signature, task_id: str) -> None:
        if refuse_after is not None and len(published) == refuse_after:
            raise QueueFullError("the ingest queue is full", headers={"Retry-After": "5"})
        job = signature.tasks[0].args[0]
        published.append({"task_id": task_id, **job})

    services.publisher.publish = publish  # type: ignore[method-assign]

    return services, results, published


def _documents(count: int) -> list[DocumentIn]:
    return [DocumentIn(id=f"d{i}", text=f"text {i}") for i in range(count)]


def test_a_request_within_the_job_size_is_one_job() -> None:
    services, results, published = _services()
    job_id = asyncio.run(services.submit_ingest("c", "m", _documents(4), None, [1] * 4))
    assert [p["task_id"] for p in published] == [job_id]
    assert results.records[job_id][0] == jobs.QUEUED


def test_a_bigger_request_is_split_into_even_jobs_in_order() -> None:
    services, results, published = _services()
    job_id = asyncio.run(services.submit_ingest("c", "m", _documents(10), None, [1] * 10))
    assert [[d["id"] for d in p["documents"]] for p in published] == [
        ["d0", "d1", "d2"], ["d3", "d4", "d5"], ["d6", "d7", "d8", "d9"],
    ]  # fmt: skip
    state, info = results.records[job_id]
    assert state == jobs.SPLIT and info["total"] == 10
    assert info["parts"] == [p["task_id"] for p in published] == [p["job_id"] for p in published]
    assert all(results.records[p][0] == jobs.QUEUED for p in info["parts"])


def test_a_refusal_part_way_names_what_was_queued_and_leaves_no_split_record() -> None:
    services, results, published = _services(refuse_after=2)
    with pytest.raises(QueueFullError) as refused:
        asyncio.run(services.submit_ingest("c", "m", _documents(10), None, [1] * 10))
    assert len(published) == 2
    assert "Documents 0-5 of this request were queued" in refused.value.message
    assert refused.value.headers == {"Retry-After": "5"}
    assert not any(state == jobs.SPLIT for state, _ in results.records.values())


def test_a_refusal_of_the_first_job_is_passed_on_as_it_is() -> None:
    services, _, published = _services(refuse_after=0)
    with pytest.raises(QueueFullError) as refused:
        asyncio.run(services.submit_ingest("c", "m", _documents(10), None, [1] * 10))
    assert refused.value.message == "the ingest queue is full" and not published


def test_a_reading_task_a_worker_dropped_as_expired_is_a_504_not_a_500() -> None:
    # It expires with the request's timeout; a worker that takes it later records it REVOKED,
    # which can reach the waiting request before its own timeout fires.
    services, results, _ = _services()

    async def send(signature: Signature, task_id: str, *, expires: float | None = None) -> None:
        pass

    async def revoked(task_id: str, timeout: float) -> dict[str, Any]:
        return {"status": states.REVOKED, "result": None}

    services.publisher.publish = send  # type: ignore[method-assign]
    results.wait = revoked  # type: ignore[attr-defined]
    with pytest.raises(GatewayTimeoutError, match="within 0.5 s"):
        asyncio.run(services.call(services.task("embedapp.embed_texts", ["a"]), timeout=0.5))
