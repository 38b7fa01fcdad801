"""TaskResults: states recorded and read in Celery's own encoding, results awaited on one
pub/sub connection, Redis failures turned into 503s (an in-memory Redis stands in)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from celery import states
from redis.exceptions import ConnectionError as RedisConnectionError

from embedapp.celery_app import create_celery
from embedapp.errors import UnavailableError
from embedapp.gateway.results import PublishOnlyRedisBackend, TaskResults
from embedapp.settings import Settings


class FakePubSub:
    def __init__(self) -> None:
        self.channels: set[str] = set()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def subscribe(self, channel: str) -> None:
        self.channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)

    async def get_message(self, *, ignore_subscribe_messages: bool, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            return None

    async def aclose(self) -> None:
        pass


class FakePipeline:
    """Commands queued, then run in order by execute()."""

    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.queued: list[tuple[str, bytes, int | None]] = []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        pass

    def set(self, key: str, value: bytes, ex: int | None = None) -> None:
        self.queued.append((key, value, ex))

    async def execute(self) -> None:
        for key, value, ex in self.queued:
            await self.redis.set(key, value, ex=ex)


class FakeRedis:
    """The few calls TaskResults makes, and PUBLISH as Celery's backend does it."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.pubsub_ = FakePubSub()
        self.down = False

    def pubsub(self) -> FakePubSub:
        return self.pubsub_

    def pipeline(self, transaction: bool) -> FakePipeline:
        return FakePipeline(self)

    def _check(self) -> None:
        if self.down:
            raise RedisConnectionError("connection refused")

    async def set(self, key: str, value: bytes, ex: int | None = None) -> None:
        self._check()
        self.data[key] = value

    async def get(self, key: str) -> bytes | None:
        self._check()
        return self.data.get(key)

    async def delete(self, *keys: str) -> None:
        self._check()
        for key in keys:
            self.data.pop(key, None)

    def publish(self, channel: str, data: bytes) -> None:
        if channel in self.pubsub_.channels:
            message = {"type": "message", "channel": channel.encode(), "data": data}
            self.pubsub_.inbox.put_nowait(message)


@pytest.fixture
def backend() -> PublishOnlyRedisBackend:
    settings = Settings(_env_file=None)
    celery = create_celery(settings)
    celery.conf.result_backend = PublishOnlyRedisBackend.url_for(settings.result_backend)
    return celery.backend  # builds no connection until one is used


def _meta(backend: PublishOnlyRedisBackend, task_id: str, state: str, result: Any) -> bytes:
    return backend.encode({"status": state, "result": result, "task_id": task_id})


def test_the_gateway_backend_is_the_publish_only_one(backend: PublishOnlyRedisBackend) -> None:
    assert isinstance(backend, PublishOnlyRedisBackend)


def test_a_recorded_state_reads_back_as_celery_stores_it(backend: PublishOnlyRedisBackend) -> None:
    async def run() -> None:
        redis = FakeRedis()
        results = TaskResults(redis, backend)  # type: ignore[arg-type]
        assert await results.record("t1", "QUEUED", {"collection": "c", "total": 3})
        meta = await results.read("t1")
        assert (meta["status"], meta["result"]) == ("QUEUED", {"collection": "c", "total": 3})
        assert backend.get_key_for_task("t1").decode() in redis.data
        # The collection is kept apart, for the keys that may read the job even once failed.
        assert await results.collection_of("t1") == "c"
        await results.forget("t1")
        assert (await results.read("t1"))["status"] == states.PENDING
        assert not redis.data

    asyncio.run(run())


def test_wait_sees_a_result_stored_before_it_subscribed(backend: PublishOnlyRedisBackend) -> None:
    async def run() -> None:
        redis = FakeRedis()
        results = TaskResults(redis, backend)  # type: ignore[arg-type]
        redis.data[backend.get_key_for_task("t2").decode()] = _meta(
            backend, "t2", states.SUCCESS, {"done": 1}
        )
        meta = await results.wait("t2", timeout=1.0)
        assert meta["result"] == {"done": 1}
        assert redis.pubsub_.channels == set()  # unsubscribed once nobody waits
        await results.close()

    asyncio.run(run())


def test_every_waiter_gets_the_published_result_and_progress_is_not_one(
    backend: PublishOnlyRedisBackend,
) -> None:
    async def run() -> None:
        redis = FakeRedis()
        results = TaskResults(redis, backend)  # type: ignore[arg-type]
        key = backend.get_key_for_task("t3").decode()
        waiters = [asyncio.create_task(results.wait("t3", timeout=5.0)) for _ in range(3)]
        while key not in redis.pubsub_.channels:
            await asyncio.sleep(0)
        redis.publish(key, _meta(backend, "t3", "EMBEDDING", {"done": 1}))
        redis.publish(key, _meta(backend, "t3", states.SUCCESS, {"done": 2}))
        metas = await asyncio.gather(*waiters)
        assert [m["result"] for m in metas] == [{"done": 2}] * 3
        await results.close()

    asyncio.run(run())


def test_wait_gives_up_after_its_timeout(backend: PublishOnlyRedisBackend) -> None:
    async def run() -> None:
        results = TaskResults(FakeRedis(), backend)  # type: ignore[arg-type]
        with pytest.raises(TimeoutError):
            await results.wait("t4", timeout=0.05)
        await results.close()

    asyncio.run(run())


def test_redis_down_is_a_503_for_readers_and_no_failure_for_recorders(
    backend: PublishOnlyRedisBackend,
) -> None:
    async def run() -> None:
        redis = FakeRedis()
        redis.down = True
        results = TaskResults(redis, backend)  # type: ignore[arg-type]
        assert await results.record("t5", "QUEUED", {}) is False
        with pytest.raises(UnavailableError):
            await results.read("t5")
        await results.forget("t5")  # left to expire, no error

    asyncio.run(run())
