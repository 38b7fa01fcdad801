"""Which queues a worker serves, decided before it starts consuming."""

from collections.abc import Iterator

import pytest

from embedapp.celery_app import celery_app
from embedapp.queues import BULK_QUEUE, INTERACTIVE_QUEUE, STORE_QUEUE
from embedapp.settings import get_settings
from embedapp.worker import lifecycle as worker


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    celery_app.amqp.queues._consume_from = None
    worker._WorkerRole.embeds = True
    worker._WorkerRole.model = None
    get_settings.cache_clear()


def test_a_worker_without_queues_embeds_and_leaves_the_store_queue_alone() -> None:
    worker._select_queues(sender="embed@host", options={"queues": None})
    assert set(celery_app.amqp.queues.consume_from) == {INTERACTIVE_QUEUE, BULK_QUEUE}
    assert worker._WorkerRole.embeds


def test_a_store_worker_loads_no_model() -> None:
    worker._select_queues(sender="store@host", options={"queues": STORE_QUEUE})
    assert not worker._WorkerRole.embeds


def test_a_worker_of_one_model_loads_that_model_and_no_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMBEDAPP_MODELS", "sentence-transformers/all-MiniLM-L6-v2,tiny=/m/tiny")
    get_settings.cache_clear()
    preloaded = []
    monkeypatch.setattr(worker.model, "preload", lambda settings: preloaded.append(settings))
    worker._select_queues(sender="bulk-tiny@host", options={"queues": "embed.bulk.tiny"})
    assert worker._WorkerRole.embeds
    assert worker.model_settings().model_id == "tiny"
    assert worker.model_settings().model_source == preloaded[0].model_source == "/m/tiny"
    with pytest.raises(ValueError, match="several models.*worker --model"):
        worker._select_queues(sender="x@host", options={"queues": "embed.bulk,embed.bulk.tiny"})
