"""Asking the running workers what they hold, with every broker read and write bounded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from embedapp.celery_app import celery_app
from embedapp.queues import STORE_QUEUE

# A socket read or write on the broker connection that takes longer fails instead of
# hanging the test (the pooled connection has no such bound: one read once hung for 300 s).
SOCKET_TIMEOUT_S = 10.0


def active_tasks(*, destination: list[str] | None = None, timeout: float = 1.0) -> dict[str, Any]:
    """`inspect().active()` per worker node, on a connection of its own.

    `safe=True`: tasks show their `argsrepr` (a line) instead of their arguments, which for an
    ingest job are hundreds of documents per reply.
    """
    bounded = {
        "read_timeout": SOCKET_TIMEOUT_S,
        "write_timeout": SOCKET_TIMEOUT_S,
    }
    with celery_app.connection_for_write(transport_options=bounded) as connection:
        inspect = celery_app.control.inspect(
            destination=destination, timeout=timeout, connection=connection
        )
        return inspect.active(safe=True) or {}


@contextmanager
def store_queue_unconsumed(client: httpx.Client) -> Iterator[None]:
    """The service's store worker stops taking the store queue (it still answers pings)
    until the block ends."""
    workers = client.get("/ready").json()["checks"]["workers"]
    store_worker = next(name for name in workers if name.startswith("store@"))
    control = celery_app.control
    control.cancel_consumer(STORE_QUEUE, destination=[store_worker], reply=True, timeout=10)
    try:
        yield
    finally:
        control.add_consumer(STORE_QUEUE, destination=[store_worker], reply=True, timeout=10)
