"""Micro-batching of interactive calls: texts that arrive together share one task and one
model call, instead of each paying a task, a round trip and a model call of its own.

A batch is sent once no text has joined it for `wait_s` (a burst of callers, such as the
answers to the previous batch coming back, lands in one batch) or after MAX_WAITS such
waits. At most `in_flight` batches run at once; while they do, arrivals keep joining the
next batch, so under load batches grow to what the workers can take (continuous batching)
and a lone caller waits `wait_s` only. A batch sent while several slots are idle is shared
out between them: on a CPU each interactive child runs one thread (the cheapest way to use a
core), so a burst must reach every child at once rather than queue behind one of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from embedapp.messages import EmbeddedTexts

log = logging.getLogger(__name__)

# What callers share a batch by: their options (a hashable value).
Key = TypeVar("Key", bound=Hashable)
# A batch still growing after this many waits is sent anyway: latency stays bounded.
MAX_WAITS = 10


@dataclass
class _Waiter:
    texts: list[str]
    future: asyncio.Future[EmbeddedTexts] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class MicroBatcher(Generic[Key]):
    """Groups concurrent `embed` calls with the same options (the key) into one `run`."""

    def __init__(
        self,
        run: Callable[[list[str], Key], Awaitable[EmbeddedTexts]],
        *,
        wait_s: float,
        max_texts: int,
        in_flight: int,
    ) -> None:
        self._run = run
        self._wait_s = wait_s
        self._max_texts = max_texts
        self._slots = asyncio.Semaphore(in_flight)
        self._waiting: dict[Key, list[_Waiter]] = {}
        self._drainers: dict[Key, asyncio.Task[None]] = {}
        self._sending: set[asyncio.Task[None]] = set()  # referenced until done

    async def embed(self, texts: list[str], key: Key) -> EmbeddedTexts:
        """This caller's vectors, computed in a batch with whoever else came at once."""
        waiter = _Waiter(list(texts))
        self._waiting.setdefault(key, []).append(waiter)
        if key not in self._drainers:
            self._drainers[key] = asyncio.create_task(self._drain(key))
        # Shielded: a caller that gives up does not cancel the batch its companions share.
        return await asyncio.shield(waiter.future)

    async def _drain(self, key: Key) -> None:
        try:
            while self._waiting.get(key):
                for _ in range(MAX_WAITS):  # until arrivals pause, or the batch is full
                    seen = len(self._waiting[key])
                    await asyncio.sleep(self._wait_s)
                    if len(self._waiting[key]) == seen or self._texts(key) >= self._max_texts:
                        break
                await self._slots.acquire()  # meanwhile, arrivals join this batch
                batch = self._take(key)
                slots = 1
                while slots < len(batch) and not self._slots.locked():
                    await self._slots.acquire()  # idle: taken without waiting
                    slots += 1
                shares = _shares(batch, slots)
                for _ in range(slots - len(shares)):
                    self._slots.release()
                for share in shares:
                    task = asyncio.create_task(self._send(share, key))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
        finally:
            del self._drainers[key]

    def _texts(self, key: Key) -> int:
        return sum(len(w.texts) for w in self._waiting[key])

    def _take(self, key: Key) -> list[_Waiter]:
        """Whole callers, up to max_texts texts (a bigger caller goes alone)."""
        waiting = self._waiting[key]
        taken, size = [], 0
        while waiting and (not taken or size + len(waiting[0].texts) <= self._max_texts):
            size += len(waiting[0].texts)
            taken.append(waiting.pop(0))
        if not waiting:
            del self._waiting[key]
        return taken

    async def _send(self, batch: list[_Waiter], key: Key) -> None:
        log.debug("micro-batch of %d callers", len(batch))
        try:
            result = await self._run([t for w in batch for t in w.texts], key)
        except Exception as exc:  # every caller of the batch gets the batch's error
            for waiter in batch:
                if not waiter.future.done():
                    waiter.future.set_exception(exc)
            return
        finally:
            self._slots.release()
        start = 0
        for waiter in batch:
            end = start + len(waiter.texts)
            if not waiter.future.done():
                waiter.future.set_result(result.part(start, end))
            start = end


def _shares(batch: list[_Waiter], parts: int) -> list[list[_Waiter]]:
    """Whole callers, in order, in up to `parts` groups of about as many texts each."""
    total = sum(len(w.texts) for w in batch)
    shares: list[list[_Waiter]] = [[]]
    size = 0
    for waiter in batch:
        shares[-1].append(waiter)
        size += len(waiter.texts)
        if len(shares) < parts and size * parts >= total * len(shares):
            shares.append([])
    return [share for share in shares if share]
