import celeryconfig
from embedapp import queues
from embedapp.celery_app import create_celery
from embedapp.settings import Settings


def test_delivery_guarantees_are_configured() -> None:
    conf = celeryconfig.build(Settings(_env_file=None, worker_prefetch_multiplier=3))
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["task_retry_on_worker_lost"]
    assert conf["broker_transport_options"]["confirm_publish"] is True
    assert conf["accept_content"] == ["json"]
    assert conf["worker_prefetch_multiplier"] == 3
    assert conf["worker_proc_alive_timeout"] > 4.0  # Celery's default kills a loading child


def test_every_task_name_is_routed_to_its_queue() -> None:
    settings = Settings(_env_file=None)
    app = create_celery(settings)
    router = app.amqp.router
    job, texts = ({"model": settings.model_id},), {"model_id": settings.model_id}
    lanes = {
        queues.EMBED_DOCUMENTS: (queues.BULK_QUEUE, job, {}),
        queues.EMBED_TEXTS: (queues.INTERACTIVE_QUEUE, (), texts),
        queues.UPSERT: (queues.STORE_QUEUE, (), {}),
        queues.GET_DOCUMENT: (queues.STORE_QUEUE, (), {}),
        queues.COLLECTION_INFO: (queues.STORE_QUEUE, (), {}),
        queues.LIST_COLLECTIONS: (queues.STORE_QUEUE, (), {}),
        queues.DELETE_DOCUMENT: (queues.STORE_QUEUE, (), {}),
        queues.DELETE_COLLECTION: (queues.STORE_QUEUE, (), {}),
        queues.SEARCH: (queues.STORE_QUEUE, (), {}),
    }
    for name, (queue, args, kwargs) in lanes.items():
        assert router.route({}, name, args, kwargs)["queue"].name == queue, name
    assert {q.name for q in app.conf.task_queues} == {
        queues.INTERACTIVE_QUEUE,
        queues.BULK_QUEUE,
        queues.STORE_QUEUE,
    }


def test_each_model_has_its_own_lanes_and_the_default_keeps_the_plain_names() -> None:
    settings = Settings(_env_file=None, models="sentence-transformers/all-MiniLM-L6-v2,tiny=/m/t")
    app = create_celery(settings)
    router = app.amqp.router

    def queue(name: str, model: str) -> str:
        if name == queues.EMBED_DOCUMENTS:
            return str(router.route({}, name, ({"model": model},), {})["queue"].name)
        return str(router.route({}, name, (["a text"],), {"model_id": model})["queue"].name)

    assert queue(queues.EMBED_DOCUMENTS, "tiny") == "embed.bulk.tiny"
    assert queue(queues.EMBED_TEXTS, "tiny") == "embed.interactive.tiny"
    assert queue(queues.EMBED_DOCUMENTS, settings.model_id) == queues.BULK_QUEUE
    assert queue(queues.EMBED_TEXTS, settings.model_id) == queues.INTERACTIVE_QUEUE
    # A model no longer served: its job reaches a worker that says so, never a lost message.
    assert queue(queues.EMBED_DOCUMENTS, "gone") == queues.BULK_QUEUE
    assert {q.name for q in app.conf.task_queues} == {
        queues.INTERACTIVE_QUEUE, queues.BULK_QUEUE, queues.STORE_QUEUE,
        "embed.interactive.tiny", "embed.bulk.tiny",
    }  # fmt: skip
    assert queues.model_of(settings, "embed.bulk.tiny") == settings.served("tiny")
    assert queues.model_of(settings, queues.STORE_QUEUE) is None


def test_the_workers_register_exactly_the_names_senders_use() -> None:
    from embedapp.celery_app import celery_app

    celery_app.loader.import_default_modules()  # the modules celeryconfig `include`s
    registered = {name for name in celery_app.tasks if name.startswith("embedapp.")}
    named = {
        value
        for key, value in vars(queues).items()
        if key.isupper() and isinstance(value, str) and value.startswith("embedapp.")
    }
    assert registered == named - {queues.STORE_TASKS}


def test_celery_dash_a_finds_the_app() -> None:
    from celery.app.utils import find_app

    from embedapp.celery_app import celery_app

    assert find_app("embedapp") is celery_app
