"""Quorum queues on a RabbitMQ cluster of three nodes started on this machine: ingest goes on
while the node holding the queues' leaders is stopped and started again, every accepted
document is stored once, and a message redelivered past the delivery limit is dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kombu import Connection
from rich.console import Console

from embedapp.bench import soak
from embedapp.queues import BULK_QUEUE, DEAD_LETTER_QUEUE
from tests.cluster import Node, cluster
from tests.integration.conftest import _serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[Node]]:
    with cluster() as started:
        yield started


def test_ingest_survives_losing_the_leaders_node(nodes: list[Node], tmp_path: Path) -> None:
    first, second, _ = nodes
    settings = {
        # kombu fails over along the list; the management API of a node that stays up.
        "broker_url": ";".join(node.amqp_url for node in nodes),
        "broker_api_url": second.api_url,
        "queue_type": "quorum",
        "result_backend": "redis://127.0.0.1:6379/3",
    }
    documents = [{"id": f"q-{i}", "text": f"quorum document {i} " * 10} for i in range(800)]
    with _serve(tmp_path, concurrency=1, empty_after=False, **settings) as service:
        queue = httpx.get(f"{second.api_url}queues/%2F/embed.bulk", timeout=10).json()
        assert queue["type"] == "quorum" and len(queue["members"]) == 3, queue
        assert queue["leader"] == first.node  # declared through the first node
        policy = queue["effective_policy_definition"]
        assert policy == {"max-length": 20, "overflow": "reject-publish", "delivery-limit": 5}
        result = soak.soak(
            service.url,
            documents,
            batch=100,
            kill_every_s=1.0,
            kills=0,  # the soak's child killer speaks to the default broker, not this one
            restart_broker_after_s=3.0,
            broker_node=first.node,
            console=Console(quiet=True),
        )
    assert result["broker_restarts"] == 1, result
    assert (result["lost"], result["duplicates"], result["failed_jobs"]) == (0, 0, 0), result

    # A message that kills every worker it reaches (an OOM, say) never reaches Celery's retry
    # count: the quorum queue's delivery limit ends its loop, in the dead-letter queue.
    assert _dead_lettered_after(first, deliveries=10) == 6  # the first and 5 redeliveries
    dead = httpx.get(f"{second.api_url}queues/%2F/embedapp.dead", timeout=10).json()
    assert dead["type"] == "quorum"
    deadline = time.monotonic() + 10  # the management API's counts lag
    while (
        httpx.get(f"{second.api_url}queues/%2F/embedapp.dead", timeout=10).json()["messages"] != 1
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)


def _dead_lettered_after(node: Node, deliveries: int) -> int:
    """Publish a message to embed.bulk (no worker consumes it now) and take it back without
    an ack until RabbitMQ dead-letters it; how many times it was delivered."""
    confirmed = {"confirm_publish": True}  # a quorum queue holds it once the cluster agreed
    with Connection(node.amqp_url, transport_options=confirmed) as connection:
        channel = connection.channel()
        channel.basic_publish(
            channel.prepare_message(b"{}", content_type="application/json"),
            exchange="",
            routing_key=BULK_QUEUE,
        )
        delivered, deadline = 0, time.monotonic() + 30
        while delivered <= deliveries and time.monotonic() < deadline:
            message = channel.basic_get(BULK_QUEUE)
            if message is None:  # requeued a moment ago, or gone to the dead letters
                if delivered and _messages(node, DEAD_LETTER_QUEUE.name):
                    break
                time.sleep(0.1)
                continue
            delivered += 1
            channel.basic_reject(message.delivery_tag, requeue=True)  # a worker died on it
        return delivered


def _messages(node: Node, queue: str) -> int:
    with Connection(node.amqp_url) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count
