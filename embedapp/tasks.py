"""Thin Celery tasks: validate the message, call the model or the store, record state."""

from functools import lru_cache
from typing import Any

from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from embedapp import jobs, model, worker  # noqa: F401  (worker: connects the lifecycle signals)
from embedapp.celery_app import celery_app
from embedapp.errors import ConflictError
from embedapp.schemas import EmbeddedJob, IngestJob
from embedapp.settings import get_settings
from embedapp.store import VectorStore, open_client

# Qdrant server hiccups are worth retrying; a wrong model or dimension is not.
STORE_RETRY_ON = (ResponseHandlingException, UnexpectedResponse, ConnectionError, TimeoutError)


@lru_cache(maxsize=1)
def _store() -> VectorStore:
    # Opened in the store worker's child on first use: embedded Qdrant admits one process.
    return VectorStore(open_client(get_settings()))


@celery_app.task(
    name="embedapp.embed_documents",
    bind=True,
    # Vectors travel to the store task in the chain's message, not through Redis; failures
    # are still stored so the chain marks the job failed.
    ignore_result=True,
    store_errors_even_if_ignored=True,
    max_retries=3,
)
def embed_documents(self: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Embed one ingest job's texts; the chain passes the result to store.upsert."""
    ingest = IngestJob.model_validate(job)
    embedder = model.get_embedder(get_settings())
    if embedder.model_id != ingest.model:
        raise ConflictError(
            f"job asks for model {ingest.model!r}; this worker serves {embedder.model_id!r}"
        )
    total = len(ingest.documents)

    def report(done: int) -> None:
        jobs.record_progress(
            self.backend, ingest.job_id, collection=ingest.collection, total=total, done=done
        )

    report(0)
    vectors = embedder.encode([d.text for d in ingest.documents], progress=report)
    return EmbeddedJob(
        job_id=ingest.job_id,
        collection=ingest.collection,
        model=embedder.model_id,
        dimension=embedder.dimension,
        documents=ingest.documents,
        vectors_b64=[model.encode_vector(v) for v in vectors],
    ).model_dump()


@celery_app.task(
    name="embedapp.store.upsert",
    bind=True,
    autoretry_for=STORE_RETRY_ON,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def upsert(self: Any, embedded: dict[str, Any]) -> dict[str, Any]:
    """Write a job's vectors and payloads to Qdrant; its return value is the job's result."""
    job = EmbeddedJob.model_validate(embedded)
    store = _store()
    store.ensure_collection(job.collection, dimension=job.dimension, model=job.model)
    payloads = [
        {
            "doc_id": doc.id,
            "text": doc.text,
            "metadata": doc.metadata,
            "content_hash": model.content_hash(doc.text, job.model),
            "model": job.model,
        }
        for doc in job.documents
    ]
    stored = store.upsert(
        job.collection,
        vectors=[model.decode_vector(v) for v in job.vectors_b64],
        payloads=payloads,
    )
    total = len(job.documents)
    return {"collection": job.collection, "total": total, "done": total, "stored": stored}


@celery_app.task(name="embedapp.store.get_document")
def get_document(collection: str, doc_id: str, with_vector: bool = False) -> dict[str, Any] | None:
    """One stored document (or None), read through the store's owner."""
    found = _store().get_document(collection, doc_id, with_vector=with_vector)
    return found.model_dump() if found else None


@celery_app.task(name="embedapp.store.collection_info")
def collection_info(collection: str) -> dict[str, Any] | None:
    """A collection's size, dimension and model (or None if it does not exist)."""
    store = _store()
    if not store.client.collection_exists(collection):
        return None
    return store.info(collection).model_dump()
