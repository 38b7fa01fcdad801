"""Versions in acceptance order. Every accepted write (an ingest request, a delete) is
stamped, and the store never lets a lower stamp replace a higher one: of two writes of a
document, the one accepted last wins, whichever a worker finishes last.

A stamp is a hybrid clock in microseconds. Redis hands stamps out, one counter for every
gateway process, never below the wall clock nor below the last one. With Redis away a gateway
carries on from its own clock: its own stamps still rise, and stay within the hosts' clock
skew of the others'.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY = "embedapp:version"
# Lua numbers are doubles: exact for integers below 2**53, about 285 years of microseconds.
_NEXT = """
local stamp = math.max(tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
redis.call('SET', KEYS[1], string.format('%.0f', stamp))
return stamp
"""


class AcceptanceClock:
    """Stamps for accepted writes, rising across every gateway that shares the Redis."""

    def __init__(self, redis: Redis) -> None:
        self._next = redis.register_script(_NEXT)
        self._last = 0

    def _local(self) -> int:
        self._last = max(time.time_ns() // 1000, self._last + 1)
        return self._last

    async def stamp(self) -> int:
        """The next version."""
        floor = self._local()
        try:
            self._last = max(int(await self._next(keys=[KEY], args=[floor])), floor)
        except RedisError as exc:
            log.warning("version stamped by this gateway's clock (Redis: %s)", exc)
        return self._last
