"""Task states in Redis, recorded, read and awaited on the event loop.

Celery's Redis backend PUBLISHes every state it stores on a channel named like the
result key; one pub/sub connection serves every waiting request. The gateway talks to Redis
itself, with short timeouts, so that a Redis outage never hangs a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from celery import states
from celery.backends.redis import RedisBackend
from redis.asyncio import Redis
from redis.exceptions import RedisError

from embedapp.errors import UnavailableError
from embedapp.messages import ServedModel

log = logging.getLogger(__name__)


class PublishOnlyRedisBackend(RedisBackend):
    """Celery's Redis backend for a process that never calls `AsyncResult.get()`.

    The stock one subscribes to every task's result channel as the task is sent (for
    `.get()`), and never unsubscribes unless someone waits: in the gateway that would grow
    without end, and make every publish fail while Redis is down. TaskResults waits instead.
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Do not subscribe: see the class docstring."""

    @classmethod
    def url_for(cls, result_backend: str) -> str:
        """`result_backend` value that selects this class for a redis:// URL."""
        return f"{cls.__module__}:{cls.__qualname__}+{result_backend}"


def _collection_key(task_id: str) -> str:
    return f"embedapp:task-collection:{task_id}"


class TaskResults:
    """Task metas in the result backend, in the backend's own encoding."""

    def __init__(self, redis: Redis, backend: RedisBackend) -> None:
        self._redis = redis
        self._backend = backend
        self._pubsub = redis.pubsub()
        self._waiting: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._listener: asyncio.Task[None] | None = None

    def _key(self, task_id: str) -> str:
        return self._backend.get_key_for_task(task_id).decode()

    async def record(self, task_id: str, state: str, info: dict[str, Any]) -> bool:
        """Store a state the way Celery would; False (logged) if Redis is unreachable."""
        meta = {
            "status": state,
            "result": info,
            "traceback": None,
            "children": [],
            "date_done": None,
            "task_id": task_id,
        }
        expires = self._backend.expires
        try:
            async with self._redis.pipeline(transaction=False) as both:  # one round trip
                both.set(self._key(task_id), self._backend.encode(meta), ex=expires)
                if "collection" in info:  # kept apart: a failure's meta replaces the info
                    both.set(_collection_key(task_id), info["collection"], ex=expires)
                await both.execute()
        except RedisError as exc:
            log.warning("task %s not recorded as %s: %s", task_id, state, exc)
            return False
        return True

    async def read(self, task_id: str) -> dict[str, Any]:
        """The stored meta of a task (status PENDING when the backend has none)."""
        try:
            raw = await self._redis.get(self._key(task_id))
        except RedisError as exc:
            log.warning("cannot read %s: %r", task_id, exc)
            raise UnavailableError("the result backend (Redis) is unreachable") from exc
        if raw is None:
            return {"status": states.PENDING, "result": None}
        return self._backend.decode_result(raw)

    async def collection_of(self, task_id: str) -> str | None:
        """The collection a recorded job works on (None: none, or not known)."""
        try:
            found = await self._redis.get(_collection_key(task_id))
        except RedisError as exc:
            raise UnavailableError("the result backend (Redis) is unreachable") from exc
        return found.decode() if isinstance(found, bytes) else found

    async def served_model(self, model_id: str) -> ServedModel | None:
        """What the embed children recorded of their model; None if unknown or unreadable."""
        try:
            raw = await self._redis.get(ServedModel.key(model_id))
        except RedisError as exc:
            log.warning("cannot read the served model: %r", exc)
            return None
        return ServedModel.model_validate_json(raw) if raw else None

    async def ping(self) -> None:
        """Raise if Redis does not answer."""
        await self._redis.ping()

    async def forget(self, task_id: str) -> None:
        """Drop a result nobody will read again."""
        try:
            await self._redis.delete(self._key(task_id), _collection_key(task_id))
        except RedisError as exc:
            log.warning("result of %s left to expire: %s", task_id, exc)

    async def wait(self, task_id: str, timeout: float) -> dict[str, Any]:
        """The task's meta once it is ready; TimeoutError after `timeout` seconds."""
        key = self._key(task_id)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        waiters = self._waiting.setdefault(key, [])
        waiters.append(future)
        try:
            if len(waiters) == 1:
                try:
                    await self._pubsub.subscribe(key)
                except RedisError as exc:
                    log.warning("cannot subscribe to %s: %r", key, exc)
                    raise UnavailableError("the result backend (Redis) is unreachable") from exc
                self._ensure_listener()
            # The result may have been stored before the subscription took effect.
            meta = await self.read(task_id)
            if meta["status"] in states.READY_STATES:
                return meta
            return await asyncio.wait_for(future, timeout)
        finally:
            waiters.remove(future)
            if not waiters:
                del self._waiting[key]
                with contextlib.suppress(RedisError):  # a dead connection unsubscribed anyway
                    await self._pubsub.unsubscribe(key)

    def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while self._waiting:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if not message or message["type"] != "message":
                continue
            meta = self._backend.decode_result(message["data"])
            if meta["status"] not in states.READY_STATES:
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            for future in self._waiting.get(channel, []):
                if not future.done():
                    future.set_result(meta)

    async def close(self) -> None:
        """Stop listening and release the connection."""
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._pubsub.aclose()
