"""The store owner (opened once per store child) and the tasks that write ingest jobs to it
(embedapp.worker.collections answers reads, searches and deletes)."""

import logging
from collections.abc import Collection
from functools import lru_cache
from typing import Any, NoReturn

from celery import signals
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from redis.exceptions import LockError

from embedapp import queues
from embedapp.celery_app import celery_app
from embedapp.errors import EmbedappError
from embedapp.messages import (
    EMBEDDED_JOB_REPR,
    Counts,
    DocumentIn,
    EmbeddedJob,
    IngestJob,
    PointIn,
    decode_vector,
    migration_done_key,
)
from embedapp.settings import get_settings
from embedapp.store import Point, VectorStore, open_store, point_id, versions
from embedapp.store.hash_index import get_hash_index
from embedapp.store.upgrade import upgrade_all_ids
from embedapp.worker import copies, lifecycle
from embedapp.worker.metrics import metrics

log = logging.getLogger(__name__)

# Qdrant server hiccups are worth retrying; a wrong model or a missing collection is not
# (EmbedappError: the client's mistake, logged without a traceback).
# LockError: the catalog's lock stayed taken (store.versions.shared_guard).
RETRY_ON = (ResponseHandlingException, UnexpectedResponse, ConnectionError, TimeoutError, LockError)
RETRIES = {
    "throws": (EmbedappError,),
    "autoretry_for": RETRY_ON,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@lru_cache(maxsize=1)
def owned_store() -> VectorStore:
    """The store this worker owns, opened on first use."""
    # Opened in the store worker's child on first use: embedded Qdrant admits one process.
    store = open_store(get_settings())
    for name, moved in upgrade_all_ids(store).items():
        log.warning("collection %r: %d points moved to exact ids (once)", name, moved)
    return store


@signals.worker_process_init.connect
def _open_store(**_: Any) -> None:
    # In the store worker's child, at start: a store that cannot open fails the worker
    # visibly, and what it finds (older data to migrate) is logged before the first task.
    if lifecycle.serves(queues.STORE_QUEUE):
        owned_store()


@signals.worker_process_shutdown.connect
def _close_store(**_: Any) -> None:
    # Releases the embedded store's files and stops an index build it started.
    if owned_store.cache_info().currsize:
        owned_store().close()


def _point(job: EmbeddedJob, point: PointIn, stored: str) -> Point:
    payload: dict[str, Any] = {
        "doc_id": point.doc_id,
        "text": point.text,
        "metadata": point.metadata,
        "content_hash": point.content_hash,
        "model": job.model,
        "model_fingerprint": job.fingerprint,
        "precision": job.precision,
        "normalized": job.normalized,
        "version": job.version,
    }
    chunk = None
    if point.chunk:
        payload["chunk"] = point.chunk.model_dump()
        # What a migration re-embeds it with (the chunk's own span says nothing of tokens).
        payload["chunking"] = job.chunking.model_dump() if job.chunking else None
        chunk = point.chunk.index
    return Point(
        id=point_id(stored, point.doc_id, chunk),
        vector=decode_vector(point.vector_b64),
        payload=payload,
    )


def _stored_for(store: VectorStore, job: EmbeddedJob) -> str | None:
    """Which stored collection the job writes: its target, else the live version of its
    model, else the served one (a new collection; another model's is refused on write).
    None: the target version was retired meanwhile (nothing to write)."""
    if job.target:
        return job.target if store.exists(job.target) else None
    return versions.of_model(store, job.collection, job.model) or versions.serving(
        store, job.collection
    )


# Like embed_documents: a job that fails for good goes to the dead-letter queue.
@celery_app.task(name=queues.UPSERT, bind=True, acks_on_failure_or_timeout=False, **RETRIES)
def upsert(self: Any, embedded: dict[str, Any]) -> dict[str, Any]:
    """Write a job's points and drop what they replace; the return value is the job's result.
    Every other live version of the collection gets the same documents, embedded by its
    own model (a job of their own)."""
    job = EmbeddedJob.model_validate(embedded)
    store = owned_store()
    stored = _stored_for(store, job)
    result = {
        "collection": job.collection,
        "total": job.total,
        "done": job.total,
        "embedded": job.embedded,
        "unchanged": job.unchanged,
        "stored": job.embedded,
        "truncated": job.truncated,
    }
    if stored is None:
        return result
    # One read for all: which documents a write accepted after this job already stored (or
    # deleted), and whether the skipped ones are really held (the hash index is a cache:
    # trust it only for what the store holds).
    written_ids = list(dict.fromkeys(p.doc_id for p in job.points))
    held = store.stored_versions(stored, written_ids + [d.id for d in job.skipped])
    newer = {doc_id for doc_id, h in held.items() if h.version > job.version}
    if newer:
        log.info("job %s: %d documents left as a later write stored them", job.job_id, len(newer))
    points = [p for p in job.points if p.doc_id not in newer]
    if points:
        recorded = metrics()
        with recorded.upsert_seconds.time():
            _write(store, job, points, stored=stored, previous=held.keys())
        recorded.points_stored.inc(len(points))
    skipped = [d for d in job.skipped if d.id not in newer]
    hashes = {doc_id: h.content_hash for doc_id, h in held.items()}
    # Unchanged, but accepted now: stamped, so that an older write still on its way loses.
    unchanged = [d.id for d in skipped if hashes.get(d.id) == d.content_hash]
    for version in [stored] if job.target else versions.live(store, job.collection):
        if store.exists(version):
            store.set_version(version, unchanged, job.version)
    missing = [d for d in skipped if hashes.get(d.id) != d.content_hash]
    if missing:
        _embed_again(self, job, missing)
    if job.target is None:
        copies.forward(store, job, points, stored)
    if job.migration:
        _count_migrated(job.migration, job.total)
    return result


def _embed_again(task: Any, job: EmbeddedJob, missing: list[DocumentIn]) -> NoReturn:
    """The documents the hash index said were stored but are not: a second pass through the
    embed lane, in place of this task (its id kept, so the job ends when they are stored)."""
    second_pass = IngestJob(
        job_id=job.job_id,
        collection=job.collection,
        model=job.model,
        version=job.version,
        documents=missing,
        chunking=job.chunking,
        use_index=False,
        carried=Counts(
            embedded=job.embedded,
            unchanged=job.unchanged - len(missing),
            truncated=job.truncated,
        ),
        target=job.target,
        migration=job.migration,
    )
    raise task.replace(
        celery_app.signature(
            queues.EMBED_DOCUMENTS, args=(second_pass.model_dump(),), argsrepr=second_pass.summary()
        )
        | task.signature(argsrepr=EMBEDDED_JOB_REPR)
    )


def _count_migrated(migration_id: str, documents: int) -> None:
    try:
        celery_app.backend.client.incrby(migration_done_key(migration_id), documents)
    except Exception as exc:  # progress only: the migration's own check counts what is stored
        log.warning("migration %s: progress not counted: %s", migration_id, exc)


def _write(
    store: VectorStore,
    job: EmbeddedJob,
    points: list[PointIn],
    *,
    stored: str,
    previous: Collection[str],
) -> None:
    """Upsert these points of the job, drop the chunks they replace, remember their hashes."""
    store.ensure_collection(
        stored, dimension=job.dimension, model=job.model, fingerprint=job.fingerprint
    )
    hashes = {p.doc_id: p.content_hash for p in points}
    store.upsert(stored, [_point(job, p, stored) for p in points], version=job.version)
    # A changed document may have had more chunks than it has now. Its earlier versions go by
    # version, not by ids derived from what is stored now: if this child dies between the two
    # writes, the rerun (the message is redelivered) still finds and removes them. Read again
    # after the write: a newer version (or a delete) that another store child wrote meanwhile
    # removes what this one added.
    newest = {d: h.version for d, h in store.stored_versions(stored, list(hashes)).items()}
    raced = {d for d in hashes if newest.get(d, job.version) != job.version}
    bounds = {d: max(job.version, newest.get(d, 0)) for d in hashes if d in previous or d in raced}
    store.delete_older(stored, bounds)
    if job.target is None:  # the ingests' own model: what the hash index speaks of
        get_hash_index().remember(job.collection, hashes)
