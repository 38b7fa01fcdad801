"""Startup checks that say which service is missing, where we looked and how to start it."""

from dataclasses import dataclass

import httpx
import redis
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from embedapp.queues import task_queues
from embedapp.settings import Settings

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Problem:
    """What is wrong with a service we need, and how to fix it."""

    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message}\n  {self.fix}"


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
            f"RabbitMQ does not answer at {_redact(settings.broker_url)} "
            f"({type(exc).__name__}: {exc}).",
            "Start it with: rabbitmq-server -detached   (or: docker compose up -d rabbitmq)",
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
            f"Redis does not answer at {_redact(settings.result_backend)} "
            f"({type(exc).__name__}: {exc}).",
            'Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
            "--appendonly no   (or: docker compose up -d redis)",
        )
    return None


def check_queues(settings: Settings) -> Problem | None:
    """The queues exist with our arguments, or which one RabbitMQ holds with others."""
    with Connection(settings.broker_url, connect_timeout=TIMEOUT_S) as conn:
        for queue in task_queues(settings):
            try:
                queue(conn.channel()).declare()
            except PreconditionFailed as exc:
                return Problem(
                    f"RabbitMQ holds queue {queue.name!r} with other arguments than "
                    f"{queue.queue_arguments} ({exc.reply_text}).",
                    f"Let it drain, then: rabbitmqctl delete_queue {queue.name}   (or set "
                    "EMBEDAPP_QUEUE_MAX_LENGTH back to the bound it was declared with)",
                )
    return None


def check_management_api(settings: Settings) -> Problem | None:
    """RabbitMQ's management API answers (Flower reads queue depths from it), or why not."""
    url = settings.management_api_url
    try:
        response = httpx.get(f"{url.rstrip('/')}/overview", timeout=TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return Problem(
            f"RabbitMQ's management API does not answer at {_redact(url)} ({exc}): "
            "Flower will show workers and tasks, but no queue depths.",
            "Enable it with: rabbitmq-plugins enable rabbitmq_management   "
            "(or set EMBEDAPP_BROKER_API_URL)",
        )
    return None


def problems(settings: Settings, *, queues: bool = True) -> list[Problem]:
    """Every required service that does not answer, or (`queues`) answers with the wrong queues."""
    broker = check_broker(settings)
    found = [
        broker,
        check_result_backend(settings),
        check_queues(settings) if queues and not broker else None,
    ]
    return [p for p in found if p is not None]
