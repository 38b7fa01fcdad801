"""Worker process lifecycle: which queues a worker serves, and one model per prefork child."""

from __future__ import annotations

import faulthandler
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from celery import signals
from celery.app import trace
from celery.worker.control import inspect_command

from embedapp import model, policies, queues
from embedapp.celery_app import celery_app
from embedapp.messages import ServedModel
from embedapp.queues import EMBED_QUEUES, embed_queues
from embedapp.settings import ModelSpec, Settings, get_settings
from embedapp.supervise import STACKS_SIGNAL
from embedapp.worker import metrics as worker_metrics

log = logging.getLogger(__name__)

# Task results hold document text (search hits, stored documents, embedded jobs): the worker's
# success line names the task and its runtime only, so no private text reaches the logs.
trace.LOG_SUCCESS = "Task %(name)s[%(id)s] succeeded in %(runtime)ss"


class _WorkerRole:
    """Set in the parent before fork, so every child inherits it."""

    concurrency = 1
    embeds = True
    queues: tuple[str, ...] = EMBED_QUEUES
    # The one model this worker's children load: the one whose queues it consumes.
    model: ModelSpec | None = None
    # Each embed child leaves a file named by its pid here once its model is loaded: the
    # worker consumes before its children are ready, and /ready asks (embedapp_children).
    loaded: Path | None = None


def serves(queue: str) -> bool:
    """Whether this worker consumes the queue (in a child: as its parent was started)."""
    return queue in _WorkerRole.queues


def model_settings() -> Settings:
    """The settings with this worker's model as the model (the default one where the worker
    was not started for a model, e.g. a process that embeds without a worker)."""
    settings = get_settings()
    return settings.for_model(_WorkerRole.model or settings.served_models[0])


def _model_of(settings: Settings, selected: tuple[str, ...]) -> ModelSpec | None:
    """The model whose embed queues are selected; ValueError for queues of several models
    (one child holds one model: serve each model with workers of its own)."""
    found = {spec for q in selected if (spec := queues.model_of(settings, q)) is not None}
    if len(found) > 1:
        names = ", ".join(sorted(spec.name for spec in found))
        raise ValueError(
            f"--queues {','.join(selected)} are embed queues of several models ({names}): "
            "start a worker per model (embedapp worker --model NAME)"
        )
    return found.pop() if found else None


@signals.celeryd_init.connect
def _select_queues(sender: str, options: dict[str, Any], **_: Any) -> None:
    # Without -Q a worker embeds: the store queue needs its single owner (`embedapp
    # store-worker`) because embedded Qdrant admits only one process.
    queues = options.get("queues")
    if not queues:
        celery_app.amqp.queues.select(list(EMBED_QUEUES))
        queues = EMBED_QUEUES
    elif isinstance(queues, str):
        queues = queues.split(",")
    _WorkerRole.queues = tuple(queues)
    settings = get_settings()
    _WorkerRole.model = _model_of(settings, _WorkerRole.queues)
    _WorkerRole.embeds = _WorkerRole.model is not None
    # Before the children fork, so that they all write where the parent serves from.
    worker_metrics.use_private_directory()
    _WorkerRole.loaded = Path(tempfile.mkdtemp(prefix="embedapp-loaded-"))
    if _WorkerRole.embeds:
        assert _WorkerRole.model is not None
        if _WorkerRole.queues == (embed_queues(settings, _WorkerRole.model.name).interactive,):
            # These children share their host's cores with the gateway answering the same
            # requests: OpenMP threads that spin while they wait would take turns away from
            # it. Set before torch is imported: OpenMP reads it as it loads.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        model.preload(model_settings())


@signals.worker_init.connect
@signals.worker_process_init.connect
def _stacks_on_request(**_: Any) -> None:
    # What `embedapp serve` sends a worker that overstays its stop (supervise.STACKS_SIGNAL):
    # each process prints its threads' stacks to the log. To the real stderr: a child's
    # sys.stderr is Celery's logger proxy, which has no file descriptor.
    faulthandler.register(STACKS_SIGNAL, file=sys.__stderr__, all_threads=True)


@signals.worker_init.connect
def _prepare(sender: Any, **_: Any) -> None:
    _WorkerRole.concurrency = int(sender.concurrency or 1)
    settings = get_settings()
    with celery_app.connection_for_write() as connection:
        queues.declare_dead_letters(connection, settings)
    try:
        applied = policies.apply(settings)
        log.info("queue policies (bounds, delivery limits): %s", applied)
    except policies.PolicyError as exc:  # the queues keep the policies set before, if any
        log.error("queue policies not set: %s", exc)
    if settings.worker_metrics_port:
        worker_metrics.serve(settings.worker_metrics_port, settings.worker_metrics_host)


@signals.worker_shutdown.connect
def _clean_up(**_: Any) -> None:
    worker_metrics.remove_directory()
    if _WorkerRole.loaded:
        shutil.rmtree(_WorkerRole.loaded, ignore_errors=True)


@inspect_command()
def embedapp_children(state: Any, **_: Any) -> dict[str, int]:
    """This worker's pool children, and how many of them are ready (their model loaded; a
    worker that does not embed has nothing to load)."""
    pids = {int(pid) for pid in state.consumer.pool.info.get("processes", [])}
    if not _WorkerRole.embeds or _WorkerRole.loaded is None:
        return {"children": len(pids), "ready": len(pids)}
    marked = {int(mark.name) for mark in _WorkerRole.loaded.iterdir() if mark.name.isdigit()}
    return {"children": len(pids), "ready": len(pids & marked)}


@signals.task_failure.connect
def _count_failure(sender: Any, **_: Any) -> None:
    worker_metrics.metrics().task_failures.labels(sender.name).inc()


@signals.task_retry.connect
def _count_retry(sender: Any, **_: Any) -> None:
    worker_metrics.metrics().task_retries.labels(sender.name).inc()


def _announce(embedder: model.Embedder) -> None:
    """Tell the gateway the model's window (it checks chunking against it at request time)."""
    served = ServedModel(
        model=embedder.model_id,
        dimension=embedder.dimension,
        max_tokens=embedder.max_tokens,
        max_content_tokens=embedder.max_content_tokens,
        precision=embedder.precision_name,
        fingerprint=embedder.fingerprint,
    )
    try:
        celery_app.backend.client.set(ServedModel.key(served.model), served.model_dump_json())
    except Exception as exc:  # the gateway then accepts and the embed task checks instead
        log.warning("model window not recorded in the result backend: %s", exc)


@signals.worker_process_init.connect
def _load_model(**_: Any) -> None:
    # Runs in each prefork child after fork: the parent only imported torch (model.preload);
    # a model, a CUDA context or an OpenMP thread pool made before fork would not survive it.
    if not _WorkerRole.embeds:
        return
    embedder = model.init_embedder(
        model_settings(),
        threads=model.threads_per_child(_WorkerRole.concurrency),
        on_batch=worker_metrics.record_batch,
    )
    _announce(embedder)
    log.info(
        "pid %d serves %s with %s", os.getpid(), ",".join(_WorkerRole.queues), embedder.model_id
    )
    if _WorkerRole.loaded:
        (_WorkerRole.loaded / str(os.getpid())).touch()
