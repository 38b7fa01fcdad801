"""Answers that unauthenticated callers may ask for as often as they like (readiness, metrics):
computed at most once per `ttl`, concurrent callers sharing the one computation, so that a
flood of probes occupies one thread, not the pool that publishing needs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Shared(Generic[T]):
    """The last answer, if younger than `ttl` seconds; else one new computation for all."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._answer: tuple[float, T] | None = None

    async def get(self, compute: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            if self._answer is None or time.monotonic() - self._answer[0] > self._ttl:
                answer = await compute()  # callers that came meanwhile wait for it: aged 0
                self._answer = (time.monotonic(), answer)
            return self._answer[1]
