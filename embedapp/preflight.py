"""Startup checks that say which service is missing, where we looked and how to start it."""

from dataclasses import dataclass

import redis
from kombu import Connection

from embedapp.settings import Settings

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Problem:
    """A service that did not answer."""

    service: str
    where: str
    reason: str
    how_to_start: str

    def __str__(self) -> str:
        return (
            f"{self.service} does not answer at {self.where} ({self.reason}).\n"
            f"  Start it with: {self.how_to_start}"
        )


def _redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def check_broker(settings: Settings) -> Problem | None:
    """RabbitMQ answers on the broker URL, or what is wrong."""
    try:
        with Connection(settings.broker_url, connect_timeout=TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
    except Exception as exc:  # kombu wraps socket, auth and DNS errors differently
        return Problem(
            "RabbitMQ",
            _redact(settings.broker_url),
            type(exc).__name__ + f": {exc}",
            "rabbitmq-server -detached   (or: docker compose up -d rabbitmq)",
        )
    return None


def check_result_backend(settings: Settings) -> Problem | None:
    """Redis answers on the result backend URL, or what is wrong."""
    try:
        client = redis.Redis.from_url(
            settings.result_backend, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
        )
        with client:
            client.ping()
    except redis.RedisError as exc:
        return Problem(
            "Redis",
            _redact(settings.result_backend),
            type(exc).__name__ + f": {exc}",
            'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
            "--appendonly no   (or: docker compose up -d redis)",
        )
    return None


def problems(settings: Settings) -> list[Problem]:
    """Every required service that does not answer."""
    found = [check_broker(settings), check_result_backend(settings)]
    return [p for p in found if p is not None]
