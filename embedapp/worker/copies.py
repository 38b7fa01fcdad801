"""Writes that reach more than one version of a collection (embedapp.store.versions): the
documents a job wrote, sent again for each other live version's model, from a worker."""

from __future__ import annotations

import uuid

from embedapp import queues
from embedapp.celery_app import celery_app
from embedapp.messages import EMBEDDED_JOB_REPR, DocumentIn, EmbeddedJob, IngestJob, PointIn
from embedapp.schemas import StoredChunk
from embedapp.store import VectorStore, versions
from embedapp.store.points import reassemble


def forward(store: VectorStore, job: EmbeddedJob, points: list[PointIn], stored: str) -> None:
    """The job's documents, as written, to each other live version, for its own model."""
    others = [v for v in versions.live(store, job.collection) if v != stored]
    if not others or not points:
        return
    documents = documents_of(points)
    for version in others:
        model, _ = store.describe(version)
        copy = IngestJob(
            job_id=str(uuid.uuid4()),
            collection=job.collection,
            model=model,
            version=job.version,
            documents=documents,
            chunking=job.chunking,
            use_index=False,
            target=version,
        )
        send_ingest_job(copy)


def send_ingest_job(job: IngestJob) -> None:
    """embed_documents (on the job's model's lane) → store.upsert, from a worker."""
    chain = celery_app.signature(
        queues.EMBED_DOCUMENTS, args=(job.model_dump(),), argsrepr=job.summary()
    ) | celery_app.signature(queues.UPSERT, argsrepr=EMBEDDED_JOB_REPR)
    chain.apply_async()


def documents_of(points: list[PointIn]) -> list[DocumentIn]:
    """The documents these points were made of, whole again (chunks reassembled)."""
    by_doc: dict[str, list[PointIn]] = {}
    for point in points:
        by_doc.setdefault(point.doc_id, []).append(point)
    documents = []
    for doc_id, parts in by_doc.items():
        parts.sort(key=lambda p: p.chunk.index if p.chunk else 0)
        chunks = [StoredChunk(text=p.text, **p.chunk.model_dump()) for p in parts if p.chunk]
        text = reassemble(chunks) if chunks else parts[0].text
        documents.append(DocumentIn(id=doc_id, text=text, metadata=parts[0].metadata))
    return documents
