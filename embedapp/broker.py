"""What RabbitMQ holds in our queues, read with passive declares (nothing is created)."""

from __future__ import annotations

from collections.abc import Iterable

from kombu import Connection

TIMEOUT_S = 2.0


def queue_stats(broker_url: str, queues: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Messages ready and consumers of each queue that exists; kombu's connection errors
    propagate (a broker that does not answer within TIMEOUT_S)."""
    found = {}
    with Connection(broker_url, connect_timeout=TIMEOUT_S) as connection:
        connection.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
        for queue in queues:
            with connection.channel() as channel:
                try:
                    _, messages, consumers = channel.queue_declare(queue, passive=True)
                except connection.channel_errors:  # not declared yet
                    continue
            found[queue] = (messages, consumers)
    return found


def connection_errors(broker_url: str) -> tuple[type[BaseException], ...]:
    """The exceptions that mean the broker could not be reached."""
    return Connection(broker_url).connection_errors
