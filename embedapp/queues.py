"""Where messages go: exchanges, queues and task names, shared by every process.

The gateway sends tasks by these names (it never imports the worker's code); the workers
register their tasks under them; `celeryconfig.py` routes them. Queue arguments are built
here once, because RabbitMQ refuses a declare whose arguments differ from the queue's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

if TYPE_CHECKING:
    from embedapp.settings import ModelSpec, Settings

# The default model's embed queues; every other served model has its own, named after it
# (embed_queues). The default keeps the plain names, so that an upgrade finds the jobs
# already queued and deployments that watch these queues keep working.
INTERACTIVE_QUEUE = "embed.interactive"
BULK_QUEUE = "embed.bulk"
STORE_QUEUE = "store"
EMBED_QUEUES = (INTERACTIVE_QUEUE, BULK_QUEUE)
# Ingest messages that failed for good (retries spent, or their child killed every time)
# are rejected into this queue, where `embedapp dlq list|replay` finds them.
DEAD_LETTER_EXCHANGE = Exchange("embedapp.dead", type="fanout", durable=True)
DEAD_LETTER_QUEUE = Queue("embedapp.dead", DEAD_LETTER_EXCHANGE, durable=True)

# Task names. Embed tasks run on an embed lane, every `store.*` task on the store queue
# (celeryconfig's task_routes): callers name the task, never the queue.
EMBED_DOCUMENTS = "embedapp.embed_documents"
EMBED_TEXTS = "embedapp.embed_texts"
STORE_TASKS = "embedapp.store.*"
UPSERT = "embedapp.store.upsert"
GET_DOCUMENT = "embedapp.store.get_document"
COLLECTION_INFO = "embedapp.store.collection_info"
CREATE_COLLECTION = "embedapp.store.create_collection"
LIST_COLLECTIONS = "embedapp.store.list_collections"
DELETE_DOCUMENT = "embedapp.store.delete_document"
DELETE_COLLECTION = "embedapp.store.delete_collection"
SEARCH = "embedapp.store.search"
MIGRATION_START = "embedapp.store.migration_start"
MIGRATION_STEP = "embedapp.store.migration_step"
MIGRATION_STATUS = "embedapp.store.migration_status"
MIGRATION_SWITCH = "embedapp.store.migration_switch"
MIGRATION_ROLLBACK = "embedapp.store.migration_rollback"
MIGRATION_FINISH = "embedapp.store.migration_finish"

# The reader of a broker answers within this, or counts as unreachable.
TIMEOUT_S = 2.0


def exchange(settings: Settings) -> Exchange:
    """Where tasks are sent. With quorum queues, a topic exchange of its own: Celery's native
    delayed delivery (a retry's countdown waits in RabbitMQ, not in a worker holding the
    message) routes through topic exchanges only, and an exchange's type cannot change."""
    if settings.queue_type == "quorum":
        return Exchange("embedapp.quorum", type="topic", durable=True)
    return Exchange("embedapp", type="direct", durable=True)


class Lanes(NamedTuple):
    """One model's embed queues."""

    interactive: str
    bulk: str


def embed_queues(settings: Settings, model: str) -> Lanes:
    """The queues of the served model named `model` (KeyError if it is not served)."""
    specs = {spec.name: spec for spec in settings.served_models}
    spec = specs[model]
    if spec == settings.served_models[0]:
        return Lanes(INTERACTIVE_QUEUE, BULK_QUEUE)
    return Lanes(f"{INTERACTIVE_QUEUE}.{spec.slug}", f"{BULK_QUEUE}.{spec.slug}")


def model_of(settings: Settings, queue: str) -> ModelSpec | None:
    """The served model whose embed queue this is; None for another queue."""
    for spec in settings.served_models:
        if queue in embed_queues(settings, spec.name):
            return spec
    return None


def route(
    settings: Settings, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, str] | None:
    """The queue of an embed task: its model's lane (the model travels in the message). A
    model no longer served goes to the default's queue, whose worker fails the job and says
    which model it asked for (the gateway refuses such requests before they are sent)."""
    if name == EMBED_DOCUMENTS:
        model, lane = args[0]["model"], "bulk"
    elif name == EMBED_TEXTS:
        model, lane = kwargs["model_id"], "interactive"
    else:
        return None
    try:
        lanes = embed_queues(settings, model)
    except KeyError:
        lanes = embed_queues(settings, settings.model_id)
    return {"queue": getattr(lanes, lane)}


def _kind(settings: Settings) -> dict[str, str]:
    # Quorum queues are replicated over a RabbitMQ cluster's nodes: one node lost, none lost.
    return {"x-queue-type": "quorum"} if settings.queue_type == "quorum" else {}


def task_queues(settings: Settings) -> list[Queue]:
    """The queues, with the same arguments for every declarer (RabbitMQ refuses a mismatch)."""
    # Bounds are not arguments but policies (embedapp.policies): an argument cannot change
    # without deleting the queue.
    to = exchange(settings)
    kind = _kind(settings)
    dead = {**kind, "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name}
    declared = []
    for spec in settings.served_models:
        lanes = embed_queues(settings, spec.name)
        declared += [
            Queue(lanes.interactive, to, routing_key=lanes.interactive, durable=True,
                  queue_arguments=kind),
            Queue(lanes.bulk, to, routing_key=lanes.bulk, durable=True, queue_arguments=dead),
        ]  # fmt: skip
    return [
        *declared,
        Queue(STORE_QUEUE, to, routing_key=STORE_QUEUE, durable=True, queue_arguments=dead),
    ]


def declare_dead_letters(connection: Connection, settings: Settings) -> None:
    """Make sure rejected messages have somewhere to go (a fanout exchange drops them otherwise)."""
    queue = Queue(
        DEAD_LETTER_QUEUE.name, DEAD_LETTER_EXCHANGE, durable=True, queue_arguments=_kind(settings)
    )
    queue(connection.default_channel).declare()


def queue_stats(broker_url: str, queues: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Messages ready and consumers of each queue that exists, read with passive declares
    (nothing is created); kombu's connection errors propagate (no answer within TIMEOUT_S)."""
    found = {}
    with Connection(broker_url, connect_timeout=TIMEOUT_S) as connection:
        connection.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
        for queue in queues:
            with connection.channel() as channel:
                try:
                    _, messages, consumers = channel.queue_declare(queue, passive=True)
                except connection.channel_errors:  # not declared yet
                    continue
            found[queue] = (messages, consumers)
    return found


def connection_errors(broker_url: str) -> tuple[type[BaseException], ...]:
    """The exceptions that mean the broker could not be reached (kombu wraps a refused
    connection in OperationalError once its retries are spent)."""
    return (OperationalError, *Connection(broker_url).connection_errors)
