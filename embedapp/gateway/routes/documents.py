"""Documents: ingest (a queued job) and read back."""

import uuid

from fastapi import APIRouter

from celeryconfig import STORE_QUEUE
from embedapp.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from embedapp.gateway.deps import CollectionName, ServicesDep
from embedapp.schemas import DocumentIn, IngestAccepted, IngestRequest, StoredDocument
from embedapp.settings import Settings

router = APIRouter(prefix="/v1/collections/{collection}/documents", tags=["documents"])


def _check_limits(body: IngestRequest, settings: Settings) -> None:
    if len(body.documents) > settings.max_documents_per_request:
        raise PayloadTooLargeError(
            f"{len(body.documents)} documents in one request; the limit is "
            f"{settings.max_documents_per_request} (EMBEDAPP_MAX_DOCUMENTS_PER_REQUEST)"
        )
    seen: dict[str, int] = {}
    for index, doc in enumerate(body.documents):
        if len(doc.text) > settings.max_text_chars:
            raise PayloadTooLargeError(
                f"documents.{index}.text: {len(doc.text)} characters; the limit is "
                f"{settings.max_text_chars} (EMBEDAPP_MAX_TEXT_CHARS)"
            )
        if doc.id is not None:
            if doc.id in seen:
                raise InvalidRequestError(
                    f"documents.{index}.id: {doc.id!r} repeats documents.{seen[doc.id]}.id"
                )
            seen[doc.id] = index


@router.post("", status_code=202, response_model=IngestAccepted)
async def ingest(
    collection: CollectionName, body: IngestRequest, services: ServicesDep
) -> IngestAccepted:
    """Queue documents for embedding; answers 202 once RabbitMQ has confirmed the job."""
    _check_limits(body, services.settings)
    documents = [
        DocumentIn(id=doc.id or uuid.uuid4().hex, text=doc.text, metadata=doc.metadata)
        for doc in body.documents
    ]
    task_id = await services.submit_ingest(collection, documents)
    return IngestAccepted(
        task_id=task_id,
        collection=collection,
        count=len(documents),
        ids=[doc.id for doc in documents],
    )


@router.get("/{doc_id}", response_model=StoredDocument, response_model_exclude_none=True)
async def get_document(
    collection: CollectionName, doc_id: str, services: ServicesDep, with_vector: bool = False
) -> StoredDocument:
    """A stored document: its text, metadata and, on request, its vector."""
    found = await services.call(
        "embedapp.store.get_document", collection, doc_id, with_vector, queue=STORE_QUEUE
    )
    if found is None:
        raise NotFoundError(f"no document {doc_id!r} in collection {collection!r}")
    return StoredDocument.model_validate(found)
