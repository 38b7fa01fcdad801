"""Asking the running workers what they hold, with every broker read and write bounded."""

from __future__ import annotations

from typing import Any

from embedapp.celery_app import celery_app

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
