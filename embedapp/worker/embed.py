"""Tasks that run the model: bulk ingest jobs and interactive texts."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedapp import jobs, model, queues
from embedapp.celery_app import celery_app
from embedapp.errors import ConflictError, EmbedappError, InvalidRequestError
from embedapp.messages import (
    RESULT_REPR_MAX,
    Chunk,
    Chunking,
    DocumentIn,
    EmbeddedJob,
    EmbeddedTexts,
    IngestJob,
    PointIn,
    encode_vector,
)
from embedapp.model.chunking import token_windows
from embedapp.store.hash_index import get_hash_index
from embedapp.worker import lifecycle as _worker  # also connects the per-child model load
from embedapp.worker.metrics import metrics


def _embedder(requested_model: str) -> model.Embedder:
    embedder = model.get_embedder(_worker.model_settings())
    if embedder.model_id != requested_model:
        raise ConflictError(
            f"the job asks for model {requested_model!r}; this worker serves "
            f"{embedder.model_id!r} (is the job's model still in EMBEDAPP_MODELS?)"
        )
    return embedder


@dataclass
class _Texts:
    """What a job's documents become: texts to encode, with their token counts and owners."""

    texts: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    owners: list[tuple[DocumentIn, Chunk | None]] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def add(self, text: str, count: int, doc: DocumentIn, chunk: Chunk | None = None) -> None:
        self.texts.append(text)
        self.counts.append(count)
        self.owners.append((doc, chunk))


def _split(
    embedder: model.Embedder, documents: list[DocumentIn], chunking: Chunking | None
) -> _Texts:
    """The texts to encode (whole documents, or chunks of long ones) and truncated doc ids."""
    split = _Texts()
    if not documents:  # every document was unchanged
        return split
    counts = embedder.token_counts([d.text for d in documents])
    for doc, count in zip(documents, counts, strict=True):
        if count <= embedder.max_tokens or chunking is None:
            split.add(doc.text, count, doc)
            if count > embedder.max_tokens:  # the model cuts it to its window: say so
                split.truncated.append(doc.id)
            continue
        spans = token_windows(
            embedder.token_offsets(doc.text),
            size=chunking.size,
            overlap=chunking.overlap,
            length=len(doc.text),
        )
        pieces = [doc.text[start:end] for start, end in spans]
        for index, ((start, end), piece, tokens) in enumerate(
            zip(spans, pieces, embedder.token_counts(pieces), strict=True)
        ):
            split.add(
                piece, tokens, doc, Chunk(index=index, count=len(spans), start=start, end=end)
            )
    return split


@celery_app.task(
    name=queues.EMBED_DOCUMENTS,
    bind=True,
    # Vectors travel to store.upsert in the chain's message, not through Redis; failures
    # are still stored so that the chain marks the job failed.
    ignore_result=True,
    store_errors_even_if_ignored=True,
    # Bounded retries, for errors and for a child that dies on the job (worker lost);
    # then the message is rejected into the dead-letter queue instead of acked away.
    autoretry_for=(Exception,),
    dont_autoretry_for=(EmbedappError,),
    retry_backoff=True,
    default_retry_delay=1,  # also the wait after a lost child (Celery's default is 3 min)
    max_retries=3,
    acks_on_failure_or_timeout=False,
    throws=(EmbedappError,),  # the client's mistake: logged without a traceback
    resultrepr_maxsize=RESULT_REPR_MAX,
)
def embed_documents(self: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Embed a job's new and changed documents; the chain hands them to store.upsert."""
    ingest = IngestJob.model_validate(job)
    embedder = _embedder(ingest.model)
    if ingest.chunking and ingest.chunking.size > embedder.max_content_tokens:
        raise InvalidRequestError(
            f"chunking.size {ingest.chunking.size} exceeds the model's window of "
            f"{embedder.max_content_tokens} tokens"
        )
    changed = _changed(ingest)
    changed_ids = {d.id for d in changed}
    skipped = [d for d in ingest.documents if d.id not in changed_ids]
    split = _split(embedder, changed, ingest.chunking)
    carried = ingest.carried
    before = carried.embedded + carried.unchanged

    def report(texts_done: int) -> None:
        # Progress in documents, the unit the client sent.
        done = before + len(skipped) + len(changed) * texts_done // max(1, len(split.texts))
        jobs.record_progress(
            self.backend,
            ingest.job_id,
            collection=ingest.collection,
            total=before + len(ingest.documents),
            done=done,
        )

    report(0)
    vectors = (
        embedder.encode(split.texts, counts=split.counts, progress=report) if split.texts else []
    )
    recorded = metrics()
    recorded.documents_embedded.inc(len(changed))
    recorded.documents_unchanged.inc(len(skipped))
    points = [
        PointIn(
            doc_id=doc.id,
            text=text,
            metadata=doc.metadata,
            content_hash=doc.content_hash,
            chunk=chunk,
            vector_b64=encode_vector(vector),
        )
        for text, (doc, chunk), vector in zip(split.texts, split.owners, vectors, strict=True)
    ]
    return EmbeddedJob(
        job_id=ingest.job_id,
        collection=ingest.collection,
        model=embedder.model_id,
        precision=embedder.precision_name,
        fingerprint=embedder.fingerprint,
        target=ingest.target,
        migration=ingest.migration,
        version=ingest.version,
        dimension=embedder.dimension,
        chunking=ingest.chunking,
        total=before + len(ingest.documents),
        embedded=carried.embedded + len(changed),
        unchanged=carried.unchanged + len(skipped),
        truncated=carried.truncated + split.truncated,
        points=points,
        skipped=skipped,
    ).model_dump()


def _changed(ingest: IngestJob) -> list[DocumentIn]:
    """Hash each document; keep those not stored before with the same content."""
    chunking = ingest.chunking.model_dump_json() if ingest.chunking else ""
    for doc in ingest.documents:
        doc.content_hash = model.content_hash(doc.text, ingest.model, chunking)
    if not ingest.use_index:
        return list(ingest.documents)
    stored = get_hash_index().known(ingest.collection, [d.id for d in ingest.documents])
    return [d for d in ingest.documents if stored.get(d.id) != d.content_hash]


@celery_app.task(
    name=queues.EMBED_TEXTS,
    store_errors_even_if_ignored=True,
    resultrepr_maxsize=RESULT_REPR_MAX,
    max_retries=3,
    throws=(EmbedappError,),
)
def embed_texts(
    texts: list[str],
    *,
    model_id: str,
    dimensions: int | None = None,
    normalize: bool = True,
) -> dict[str, Any]:
    """Vectors for texts (queries, /v1/embeddings, /embed; micro-batched by the gateway), in
    order; texts past the model's window are cut to it, and their token counts say so."""
    embedder = _embedder(model_id)
    if dimensions is not None and dimensions > embedder.dimension:
        raise InvalidRequestError(
            f"dimensions {dimensions} exceeds the model's {embedder.dimension}"
        )
    counts = embedder.token_counts(texts)
    vectors = embedder.encode(texts, counts=counts, normalize=normalize)
    if dimensions is not None:
        vectors = vectors[:, :dimensions]
        if normalize:
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return EmbeddedTexts(
        model=embedder.model_id,
        max_tokens=embedder.max_tokens,
        fingerprint=embedder.fingerprint,
        token_counts=counts,
        vectors_b64=[encode_vector(v) for v in vectors],
    ).model_dump()
