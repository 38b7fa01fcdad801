"""Which queues a worker serves, decided before it starts consuming."""

from collections.abc import Iterator

import pytest

from embedapp.celery_app import celery_app
from embedapp.queues import BULK_QUEUE, INTERACTIVE_QUEUE, STORE_QUEUE
from embedapp.worker import lifecycle as worker


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    celery_app.amqp.queues._consume_from = None
    worker._WorkerRole.embeds = True


def test_a_worker_without_queues_embeds_and_leaves_the_store_queue_alone() -> None:
    worker._select_queues(sender="embed@host", options={"queues": None})
    assert set(celery_app.amqp.queues.consume_from) == {INTERACTIVE_QUEUE, BULK_QUEUE}
    assert worker._WorkerRole.embeds


def test_a_store_worker_loads_no_model() -> None:
    worker._select_queues(sender="store@host", options={"queues": STORE_QUEUE})
    assert not worker._WorkerRole.embeds
