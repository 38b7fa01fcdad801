"""Celery configuration for embedapp, built from the one Settings object.

`embedapp.celery_app` applies `build(get_settings())`; every setting below is explained
because each one was chosen against a failure we would otherwise see in production.
Queue and task names, and the queues' declarations, live in `embedapp.queues`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from embedapp import queues

if TYPE_CHECKING:
    from embedapp.settings import Settings


def _embed_route(
    settings: Settings,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    **_: Any,
) -> dict[str, str] | None:
    return queues.route(settings, name, args, kwargs)


def build(settings: Settings) -> dict[str, Any]:
    """The Celery settings for these embedapp settings."""
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        # Without confirms, a publish the broker refuses (full queue, lost connection) is
        # dropped silently; with them the gateway only answers 202 for what RabbitMQ took.
        "broker_transport_options": {"confirm_publish": True},
        "broker_connection_retry_on_startup": True,
        # JSON only: readable in Flower and the management UI, and no pickle from the wire.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # Acknowledge after the task ran, so a crashed child's message is delivered again
        # (tasks are idempotent: deterministic point ids). A message whose child dies is
        # retried a bounded number of times (Task.max_retries) instead of requeued forever.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_retry_on_worker_lost": True,
        # A slow handshake on a busy machine still gets Celery's default 4 s. Workers retry
        # connecting forever.
        "broker_connection_timeout": 4.0,
        # A worker's publishes (a chain's next task, a retry) wait out a broker restart of
        # up to about two minutes: given up sooner, the job reads `failed` although its
        # message, never acked, runs again once RabbitMQ is back. The gateway allows one
        # retry instead (gateway/app.py): its client gets a 503 within seconds.
        "task_publish_retry_policy": {
            "max_retries": 120,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
        # Workers wait out a Redis outage, however long: a task whose state cannot be stored
        # would otherwise fail, and an ingest job end in the dead-letter queue because Redis
        # was away. The gateway never waits on these: it talks to Redis itself, with short
        # timeouts, and its Celery app turns the retries off.
        "redis_socket_connect_timeout": 2.0,
        "redis_socket_timeout": 5.0,
        "result_backend_always_retry": True,
        "result_backend_max_sleep_between_retries_ms": 5_000,
        # One reserved message per child: a job is hundreds of texts, so prefetching more
        # only parks work on a busy child while another sits idle.
        "worker_prefetch_multiplier": settings.worker_prefetch_multiplier,
        # A child loads the model in worker_process_init; the default 4 s kills it mid-load.
        "worker_proc_alive_timeout": settings.worker_proc_alive_timeout_s,
        # Job states live in Redis long enough to be polled, not forever.
        "result_expires": settings.result_expires_s,
        # Off: extended results store each task's arguments with its state, and a store
        # task's argument is the whole job (texts and vectors), kept in Redis's RAM.
        "result_extended": False,
        # Flower shows tasks only from events; sent events show queued ones too.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_queues": queues.task_queues(settings),
        "task_default_queue": queues.BULK_QUEUE,
        "task_default_exchange": queues.exchange(settings).name,
        "task_default_exchange_type": queues.exchange(settings).type,
        "task_default_routing_key": queues.BULK_QUEUE,
        # The one place that decides a task's queue: senders name only the task. An embed
        # task goes to its model's lane (the model is in its message), the rest by name.
        "task_routes": (
            functools.partial(_embed_route, settings),
            {queues.STORE_TASKS: {"queue": queues.STORE_QUEUE}},
        ),
        "include": [
            "embedapp.worker.embed",
            "embedapp.worker.store",
            "embedapp.worker.collections",
            "embedapp.worker.migrations",
            "embedapp.worker.migration_control",
        ],
        "worker_hijack_root_logger": True,
    }
