"""The dead-letter queue: ingest messages that failed for good, to inspect and replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Connection, Producer
from kombu.message import Message

from embedapp.queues import DEAD_LETTER_QUEUE, declare_dead_letters, exchange
from embedapp.settings import Settings

# How long RabbitMQ may take to confirm a replayed message.
CONFIRM_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know about one dead message."""

    task: str
    task_id: str
    job_id: str | None
    collection: str | None
    documents: int | None
    queue: str
    routing_key: str
    died_at: str
    deaths: int

    @classmethod
    def from_message(cls, message: Message) -> DeadLetter:
        headers = message.headers or {}
        death = (headers.get("x-death") or [{}])[0]
        args = _first_arg(message.body)
        return cls(
            task=headers.get("task", "?"),
            task_id=headers.get("id", "?"),
            job_id=args.get("job_id"),
            collection=args.get("collection"),
            documents=len(args["documents"])
            if "documents" in args
            else len(args["points"])
            if "points" in args
            else None,
            queue=death.get("queue", "?"),
            routing_key=(death.get("routing-keys") or ["?"])[0],
            died_at=str(death.get("time", "?")),
            deaths=int(death.get("count", 1)),
        )


def _first_arg(body: bytes | str) -> dict[str, Any]:
    try:
        args = json.loads(body)[0]
    except (ValueError, IndexError, TypeError):
        return {}
    return args[0] if args and isinstance(args[0], dict) else {}


def _each(connection: Connection, settings: Settings, visit: Callable[[Message], bool]) -> None:
    """Hand every dead message to `visit`; those it returns True for are acked (removed)."""
    declare_dead_letters(connection, settings)
    channel = connection.channel()
    try:
        queue = DEAD_LETTER_QUEUE(channel)
        while (message := queue.get(no_ack=False)) is not None:
            if visit(message):
                message.ack()
    finally:
        channel.close()  # closing requeues what was not acked, in its original order


def peek(connection: Connection, settings: Settings) -> list[DeadLetter]:
    """Every dead message, left in the queue."""
    found: list[DeadLetter] = []

    def note(message: Message) -> bool:
        found.append(DeadLetter.from_message(message))
        return False

    _each(connection, settings, note)
    return found


@dataclass(frozen=True)
class Replay:
    """What a replay did: letters back in their queue, and letters still dead."""

    sent: list[DeadLetter]
    # Refused by their queue (full, or gone): left in the dead-letter queue, nothing lost.
    refused: list[DeadLetter]


def replay(
    connection: Connection, settings: Settings, *, task_ids: set[str] | None = None
) -> Replay:
    """Send dead messages (all, or those of these task ids) back to their queue, retries reset.

    A dead message is removed only once RabbitMQ confirmed its copy: `connection` must publish
    with confirms (`transport_options={"confirm_publish": True}`), and `mandatory` turns a
    queue that no longer exists into a refusal instead of a silent drop.
    """
    if not (connection.transport_options or {}).get("confirm_publish"):
        raise ValueError("replay needs a connection that publishes with confirms")
    returned: set[str] = set()
    producer = Producer(
        connection.channel(),
        exchange=exchange(settings),
        on_return=lambda exc, exchange, routing_key, message: returned.add(
            (message.headers or {}).get("id", "")
        ),
    )
    done = Replay(sent=[], refused=[])

    def resend(message: Message) -> bool:
        letter = DeadLetter.from_message(message)
        if task_ids is not None and letter.task_id not in task_ids:
            return False
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
        headers["retries"] = 0  # a fresh budget: the cause is meant to be fixed by now
        try:
            producer.publish(
                message.body,
                routing_key=letter.routing_key,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                mandatory=True,
                confirm_timeout=CONFIRM_TIMEOUT_S,
                **_celery_properties(message),
            )
        except (MessageNacked, TimeoutError):
            # A confirm that timed out may still have been enqueued: keeping the letter risks
            # a duplicate (tasks are idempotent), dropping it risks the job.
            done.refused.append(letter)
            return False
        if letter.task_id in returned:
            done.refused.append(letter)
            return False
        done.sent.append(letter)
        return True

    try:
        _each(connection, settings, resend)
    finally:
        producer.channel.close()
    return done


def _celery_properties(message: Message) -> dict[str, Any]:
    props = message.properties or {}
    return {k: props[k] for k in ("correlation_id", "reply_to", "priority") if props.get(k)}
