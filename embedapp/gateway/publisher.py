"""Publishing to RabbitMQ, its refusals made into answers: a full queue is a 429, a blocked
or unreachable broker a 503; and a store worker that falls behind is a 429 before anything
is published."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

import anyio
from amqp.exceptions import MessageNacked
from celery.canvas import Signature
from kombu.exceptions import OperationalError

from embedapp import queues
from embedapp.errors import BrokerUnavailableError, QueueFullError
from embedapp.gateway.metrics import GatewayMetrics
from embedapp.gateway.probes import Shared
from embedapp.queues import connection_errors, queue_stats
from embedapp.settings import Settings

log = logging.getLogger(__name__)

# How long the store queue's length is trusted without asking RabbitMQ again.
STORE_CHECK_S = 1.0


@dataclass
class Publisher:
    """Publishes with confirms and bounds, for the gateway's Services."""

    settings: Settings
    metrics: GatewayMetrics
    _store_backlog: Shared[int] = field(default_factory=lambda: Shared(STORE_CHECK_S))

    async def publish(
        self, signature: Signature, task_id: str, *, expires: float | None = None
    ) -> None:
        """Publish and wait for RabbitMQ's confirm (in a thread: kombu blocks).

        `expires`: seconds after which a worker drops the task unrun (nobody waits for it)."""
        started = time.perf_counter()
        # A confirm that does not come in time (RabbitMQ blocks publishers during a memory or
        # disk alarm) fails the try; kombu retries once (the gateway's publish retry policy).
        send = partial(
            signature.apply_async,
            task_id=task_id,
            expires=expires,
            confirm_timeout=self.settings.publish_confirm_timeout_s,
        )
        first = getattr(signature, "tasks", (signature,))[0]  # a chain: its first task
        try:
            await anyio.to_thread.run_sync(send)
        except OperationalError as exc:
            if isinstance(exc.__cause__, MessageNacked):
                self.metrics.rejected.labels("queue_full").inc()
                raise self._full(first.task) from exc
            self.metrics.rejected.labels("broker_unavailable").inc()
            log.warning("publish of %s failed: %r (cause %r)", signature.task, exc, exc.__cause__)
            broker = self.settings.broker_url.split("@")[-1]
            reason = (
                "did not confirm in time (a memory or disk alarm blocks publishers?)"
                if isinstance(exc.__cause__, TimeoutError)
                else "is unreachable"
            )
            raise BrokerUnavailableError(
                f"the message broker ({broker}) {reason}",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from exc
        self.metrics.publish_seconds.labels(first.task).observe(time.perf_counter() - started)

    def _full(self, task: str) -> QueueFullError:
        """The 429 for a queue that refused a publish (its bound policy)."""
        if task == queues.EMBED_TEXTS:
            what, setting = "embedding queue", "INTERACTIVE_QUEUE_MAX_LENGTH"
            bound = self.settings.interactive_queue_max_length
        else:
            what, setting, bound = (
                "ingest queue",
                "QUEUE_MAX_LENGTH",
                self.settings.queue_max_length,
            )
        return self._busy(f"the {what} holds {bound} jobs (EMBEDAPP_{setting})")

    def _busy(self, why: str) -> QueueFullError:
        wait = self.settings.retry_after_s
        return QueueFullError(f"{why}; retry in {wait} s", headers={"Retry-After": str(wait)})

    async def check_store_backlog(self) -> None:
        """429 while the store queue holds its bound of jobs: the store worker writes slower
        than the embed workers fill it, and more jobs would only wait in RabbitMQ's memory."""
        waiting = await self._store_backlog.get(self._count_store_queue)
        bound = self.settings.store_queue_max_length
        if waiting >= bound:
            self.metrics.rejected.labels("store_behind").inc()
            raise self._busy(
                f"{waiting} embedded jobs wait for the store worker (EMBEDAPP_STORE_QUEUE_MAX_"
                f"LENGTH is {bound}): it writes slower than documents are embedded"
            )

    async def _count_store_queue(self) -> int:
        broker = self.settings.broker_url
        try:
            stats = await anyio.to_thread.run_sync(queue_stats, broker, [queues.STORE_QUEUE])
        except connection_errors(broker):
            return 0  # the publish that follows says what is wrong with the broker
        return stats.get(queues.STORE_QUEUE, (0, 0))[0]
