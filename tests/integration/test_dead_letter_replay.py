"""`embedapp dlq replay` never drops a job: a dead letter leaves the dead-letter queue only once
RabbitMQ confirmed its copy in the target queue (real RabbitMQ; no workers needed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection, Producer, Queue

from embedapp.cli import dead_letters
from embedapp.queues import DEAD_LETTER_EXCHANGE, declare_dead_letters, exchange
from embedapp.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def connection() -> Iterator[Connection]:
    with Connection(Settings().broker_url, transport_options={"confirm_publish": True}) as conn:
        declare_dead_letters(conn, Settings())
        yield conn


@pytest.fixture
def full_queue(connection: Connection) -> Iterator[Queue]:
    """A queue of one message that refuses more (as embed.bulk does when full)."""
    name = f"test-full-{uuid.uuid4().hex[:8]}"
    queue = Queue(
        name,
        exchange(Settings()),
        routing_key=name,
        queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
    )(connection.default_channel)
    queue.declare()
    Producer(connection.default_channel, exchange=exchange(Settings())).publish(
        b"{}", routing_key=name
    )
    yield queue
    queue.delete()


def _dead_letter(connection: Connection, target: str) -> str:
    """A dead message that came from `target`; its task id."""
    task_id = str(uuid.uuid4())
    death = {"queue": target, "routing-keys": [target], "count": 4, "reason": "rejected"}
    Producer(connection.default_channel, exchange=DEAD_LETTER_EXCHANGE).publish(
        [[{"job_id": task_id, "collection": "c", "documents": []}], {}, {}],
        serializer="json",
        headers={"task": "embedapp.embed_documents", "id": task_id, "x-death": [death]},
    )
    return task_id


def _held(connection: Connection, task_id: str) -> bool:
    return any(letter.task_id == task_id for letter in dead_letters.peek(connection, Settings()))


def test_a_replay_the_target_refuses_stays_dead_until_there_is_room(
    connection: Connection, full_queue: Queue
) -> None:
    task_id = _dead_letter(connection, full_queue.name)

    refused = dead_letters.replay(connection, Settings(), task_ids={task_id})
    assert [letter.task_id for letter in refused.refused] == [task_id] and not refused.sent
    assert _held(connection, task_id)  # not acked away: nothing lost
    assert full_queue.queue_declare(passive=True).message_count == 1

    full_queue.purge()  # room again
    sent = dead_letters.replay(connection, Settings(), task_ids={task_id})
    assert [letter.task_id for letter in sent.sent] == [task_id] and not sent.refused
    assert not _held(connection, task_id)
    assert full_queue.queue_declare(passive=True).message_count == 1


def test_a_replay_to_a_queue_that_no_longer_exists_stays_dead(connection: Connection) -> None:
    task_id = _dead_letter(connection, f"gone-{uuid.uuid4().hex[:8]}")
    result = dead_letters.replay(connection, Settings(), task_ids={task_id})
    assert [letter.task_id for letter in result.refused] == [task_id]
    assert _held(connection, task_id)
    _drop(connection, task_id)


def _drop(connection: Connection, task_id: str) -> None:
    channel = connection.channel()
    try:
        queue = dead_letters.DEAD_LETTER_QUEUE(channel)
        while (message := queue.get(no_ack=False)) is not None:
            if message.headers.get("id") == task_id:
                message.ack()
    finally:
        channel.close()
