import celeryconfig
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


def test_tasks_are_routed_to_their_queues() -> None:
    app = create_celery(Settings(_env_file=None))
    router = app.amqp.router
    route = router.route({}, "embedapp.embed_documents")
    assert route["queue"].name == celeryconfig.BULK_QUEUE
    for name in ("embedapp.store.upsert", "embedapp.store.get_document"):
        assert router.route({}, name)["queue"].name == celeryconfig.STORE_QUEUE
    assert {q.name for q in app.conf.task_queues} == {
        celeryconfig.INTERACTIVE_QUEUE,
        celeryconfig.BULK_QUEUE,
        celeryconfig.STORE_QUEUE,
    }


def test_celery_dash_a_finds_the_app() -> None:
    from celery.app.utils import find_app

    from embedapp.celery_app import celery_app

    assert find_app("embedapp") is celery_app
