"""Tasks that own Qdrant: write ingest jobs, read, search, delete."""

import logging
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from celery import signals
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from embedapp import filters, queues
from embedapp.celery_app import celery_app
from embedapp.errors import EmbedappError
from embedapp.messages import (
    EMBEDDED_JOB_REPR,
    Counts,
    EmbeddedJob,
    EmbeddedTexts,
    IngestJob,
    PointIn,
    decode_vector,
)
from embedapp.settings import get_settings
from embedapp.store import Point, VectorStore, open_store, point_id
from embedapp.store.hash_index import get_hash_index
from embedapp.worker import lifecycle
from embedapp.worker.metrics import metrics

log = logging.getLogger(__name__)

# Qdrant server hiccups are worth retrying; a wrong model or a missing collection is not
# (EmbedappError: the client's mistake, logged without a traceback).
RETRY_ON = (ResponseHandlingException, UnexpectedResponse, ConnectionError, TimeoutError)
RETRIES = {
    "throws": (EmbedappError,),
    "autoretry_for": RETRY_ON,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@lru_cache(maxsize=1)
def _store() -> VectorStore:
    # Opened in the store worker's child on first use: embedded Qdrant admits one process.
    store = open_store(get_settings())
    for name, moved in store.upgrade_all_ids().items():
        log.warning("collection %r: %d points moved to exact ids (once)", name, moved)
    return store


@signals.worker_process_init.connect
def _open_store(**_: Any) -> None:
    # In the store worker's child, at start: a store that cannot open fails the worker
    # visibly, and what it finds (older data to migrate) is logged before the first task.
    if lifecycle.serves(queues.STORE_QUEUE):
        _store()


@signals.worker_process_shutdown.connect
def _close_store(**_: Any) -> None:
    # Releases the embedded store's files and stops an index build it started.
    if _store.cache_info().currsize:
        _store().close()


def _point(job: EmbeddedJob, point: PointIn) -> Point:
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
        chunk = point.chunk.index
    return Point(
        id=point_id(job.collection, point.doc_id, chunk),
        vector=decode_vector(point.vector_b64),
        payload=payload,
    )


# Like embed_documents: a job that fails for good goes to the dead-letter queue.
@celery_app.task(name=queues.UPSERT, bind=True, acks_on_failure_or_timeout=False, **RETRIES)
def upsert(self: Any, embedded: dict[str, Any]) -> dict[str, Any]:
    """Write a job's points and drop what they replace; the return value is the job's result."""
    job = EmbeddedJob.model_validate(embedded)
    store = _store()
    # One read for all: which documents a write accepted after this job already stored (or
    # deleted), and whether the skipped ones are really held (the hash index is a cache:
    # trust it only for what the store holds).
    written_ids = list(dict.fromkeys(p.doc_id for p in job.points))
    held = store.stored_versions(job.collection, written_ids + [d.id for d in job.skipped])
    newer = {doc_id for doc_id, h in held.items() if h.version > job.version}
    if newer:
        log.info("job %s: %d documents left as a later write stored them", job.job_id, len(newer))
    points = [p for p in job.points if p.doc_id not in newer]
    if points:
        recorded = metrics()
        with recorded.upsert_seconds.time():
            _write(store, job, points, previous=held.keys())
        recorded.points_stored.inc(len(points))
    skipped = [d for d in job.skipped if d.id not in newer]
    hashes = {doc_id: h.content_hash for doc_id, h in held.items()}
    # Unchanged, but accepted now: stamped, so that an older write still on its way loses.
    unchanged = [d.id for d in skipped if hashes.get(d.id) == d.content_hash]
    store.set_version(job.collection, unchanged, job.version)
    missing = [d for d in skipped if hashes.get(d.id) != d.content_hash]
    if missing:
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
        )
        # Keeps this task's id, so the job ends when the second pass is stored.
        raise self.replace(
            celery_app.signature(
                queues.EMBED_DOCUMENTS,
                args=(second_pass.model_dump(),),
                argsrepr=second_pass.summary(),
            )
            | self.signature(argsrepr=EMBEDDED_JOB_REPR)
        )
    return {
        "collection": job.collection,
        "total": job.total,
        "done": job.total,
        "embedded": job.embedded,
        "unchanged": job.unchanged,
        "stored": job.embedded,
        "truncated": job.truncated,
    }


def _write(
    store: VectorStore, job: EmbeddedJob, points: list[PointIn], *, previous: Collection[str]
) -> None:
    """Upsert these points of the job, drop the chunks they replace, remember their hashes."""
    store.ensure_collection(
        job.collection, dimension=job.dimension, model=job.model, fingerprint=job.fingerprint
    )
    hashes = {p.doc_id: p.content_hash for p in points}
    store.upsert(job.collection, [_point(job, p) for p in points], version=job.version)
    # A changed document may have had more chunks than it has now. Its earlier versions go by
    # version, not by ids derived from what is stored now: if this child dies between the two
    # writes, the rerun (the message is redelivered) still finds and removes them. Read again
    # after the write: a newer version (or a delete) that another store child wrote meanwhile
    # removes what this one added.
    newest = {d: h.version for d, h in store.stored_versions(job.collection, list(hashes)).items()}
    raced = {d for d in hashes if newest.get(d, job.version) != job.version}
    bounds = {d: max(job.version, newest.get(d, 0)) for d in hashes if d in previous or d in raced}
    store.delete_older(job.collection, bounds)
    get_hash_index().remember(job.collection, hashes)


@celery_app.task(name=queues.GET_DOCUMENT, **RETRIES)
def get_document(collection: str, doc_id: str, with_vector: bool = False) -> dict[str, Any]:
    """One stored document, read through the store's owner."""
    return _store().get_document(collection, doc_id, with_vector=with_vector).model_dump()


@celery_app.task(name=queues.COLLECTION_INFO, **RETRIES)
def collection_info(collection: str) -> dict[str, Any]:
    """A collection's size, dimension and model."""
    return _store().info(collection).model_dump()


@celery_app.task(name=queues.CREATE_COLLECTION, **RETRIES)
def create_collection(
    collection: str, model: str, dimension: int, fingerprint: str
) -> dict[str, Any]:
    """Make a collection for a model, unless it exists (ConflictError: for another model)."""
    store = _store()
    existed = store.exists(collection)
    store.ensure_collection(collection, dimension=dimension, model=model, fingerprint=fingerprint)
    return {"created": not existed, "collection": store.info(collection).model_dump()}


@celery_app.task(name=queues.LIST_COLLECTIONS, **RETRIES)
def list_collections() -> list[dict[str, Any]]:
    """Every collection."""
    return [c.model_dump() for c in _store().list_collections()]


@celery_app.task(name=queues.DELETE_DOCUMENT, **RETRIES)
def delete_document(collection: str, doc_id: str, version: int = 0) -> dict[str, Any]:
    """Remove a document and all its chunks, unless a write accepted later stored it."""
    deleted = _store().delete_document(collection, doc_id, version)
    get_hash_index().forget(collection, [doc_id])
    return {"kind": "delete", "collection": collection, "deleted": deleted}


@celery_app.task(name=queues.DELETE_COLLECTION, **RETRIES)
def delete_collection(collection: str) -> dict[str, Any]:
    """Remove a collection and everything in it."""
    deleted = _store().delete_collection(collection)
    get_hash_index().forget(collection)
    return {"kind": "delete", "collection": collection, "deleted": deleted}


@celery_app.task(name=queues.SEARCH, **RETRIES)
def search(
    query: dict[str, Any],
    collection: str,
    *,
    top_k: int,
    conditions: dict[str, Any],
    with_text: bool,
    score_threshold: float | None = None,
) -> dict[str, Any]:
    """The nearest documents to a query the gateway had embedded (micro-batched)."""
    embedded = EmbeddedTexts.model_validate(query)
    store = _store()
    store.check_model(collection, model=embedded.model, fingerprint=embedded.fingerprint)
    hits = store.search(
        collection,
        decode_vector(embedded.vectors_b64[0]),
        top_k=top_k,
        where=filters.parse(conditions),
        score_threshold=score_threshold,
        with_text=with_text,
    )
    return {"model": embedded.model, "hits": [h.model_dump(exclude_none=True) for h in hits]}
