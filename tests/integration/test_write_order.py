"""The write accepted last wins, through the real service: whichever job a worker finishes
last, and whether a delete reaches the store before or after an ingest accepted earlier."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from embedapp.gateway.clock import KEY, AcceptanceClock
from embedapp.settings import Settings
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

# Long enough to embed that a one-document job accepted after it is stored first (the
# service runs two embed children).
BIG_JOB = 400
# Another gateway's clock, years ahead of this one (still exact in a double).
AHEAD = 4 * 10**15


def _big_job(last_id: str, last_text: str) -> list[dict[str, str]]:
    filler = [
        {"id": f"filler-{i}", "text": f"Filler document number {i}, about nothing in particular."}
        for i in range(BIG_JOB - 1)
    ]
    return [*filler, {"id": last_id, "text": last_text}]


def _text(service: Service, collection: str, doc_id: str) -> str | None:
    response = service.client.get(f"/v1/collections/{collection}/documents/{doc_id}")
    return response.json()["text"] if response.status_code == 200 else None


def test_a_newer_write_stored_first_is_not_replaced_by_an_older_job(
    service: Service, collection: str
) -> None:
    older = service.ingest(collection, _big_job("x", "the old version of x"))
    newer = service.ingest(collection, [{"id": "x", "text": "the new version of x"}])
    assert service.wait_for(newer["task_id"])["state"] == "stored"
    assert _text(service, collection, "x") == "the new version of x"
    assert service.wait_for(older["task_id"])["state"] == "stored"  # finished last
    assert _text(service, collection, "x") == "the new version of x"


def test_a_delete_that_overtakes_an_earlier_ingest_is_not_undone(
    service: Service, collection: str
) -> None:
    queued = service.ingest(collection, _big_job("gone", "deleted before it was stored"))
    deleted = service.client.delete(f"/v1/collections/{collection}/documents/gone")
    assert deleted.status_code == 202
    status = service.wait_for(
        deleted.json()["task_id"], until=lambda s: s["state"] in ("deleted", "failed")
    )
    assert status["state"] == "deleted", status
    assert service.wait_for(queued["task_id"])["state"] == "stored"
    assert _text(service, collection, "gone") is None
    assert _text(service, collection, "filler-0") is not None

    again = service.ingest(collection, [{"id": "gone", "text": "sent again after the delete"}])
    assert service.wait_for(again["task_id"])["state"] == "stored"
    assert _text(service, collection, "gone") == "sent again after the delete"


def test_stamps_rise_across_gateways_and_without_redis() -> None:
    async def stamps() -> tuple[list[int], list[int]]:
        redis = Redis.from_url(Settings(_env_file=None).result_backend)
        await redis.set(KEY, AHEAD)  # another gateway's clock ran far ahead
        first, second = AcceptanceClock(redis), AcceptanceClock(redis)
        shared = [await clock.stamp() for clock in (first, second, first, second)]
        await redis.aclose()
        down = Redis(port=1, retry=Retry(NoBackoff(), 0))
        alone = AcceptanceClock(down)
        local = [await alone.stamp() for _ in range(3)]
        await down.aclose()
        return shared, local

    shared, local = asyncio.run(stamps())
    assert shared == sorted(set(shared)) and shared[0] > AHEAD
    assert local == sorted(set(local))


def test_a_gateway_without_redis_keeps_above_its_own_last_stamp() -> None:
    async def stamps() -> list[int]:
        redis = Redis.from_url(Settings(_env_file=None).result_backend)
        await redis.set(KEY, AHEAD)
        clock = AcceptanceClock(redis)
        stamped = [await clock.stamp()]
        clock._next.registered_client = Redis(port=1, retry=Retry(NoBackoff(), 0))  # Redis away
        try:
            stamped.append(await clock.stamp())
        except RedisConnectionError:
            pytest.fail("a stamp must not need Redis")
        await redis.aclose()
        return stamped

    stamped = asyncio.run(stamps())
    assert stamped[1] == stamped[0] + 1
