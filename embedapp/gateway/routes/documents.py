"""Documents: ingest (a queued job), read back, delete."""

import json
import uuid

from fastapi import APIRouter

from embedapp import queues
from embedapp.errors import InvalidRequestError, PayloadTooLargeError
from embedapp.gateway.deps import CollectionName, ServicesDep
from embedapp.messages import DocumentIn
from embedapp.schemas import IngestAccepted, IngestRequest, StoredDocument, TaskAccepted
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
        metadata_bytes = len(json.dumps(doc.metadata, ensure_ascii=False).encode())
        if metadata_bytes > settings.max_metadata_bytes:
            raise PayloadTooLargeError(
                f"documents.{index}.metadata: {metadata_bytes} bytes of JSON; the limit is "
                f"{settings.max_metadata_bytes} (EMBEDAPP_MAX_METADATA_BYTES)"
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
    task_id = await services.submit_ingest(collection, documents, body.chunking)
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
    """A stored document: its text, metadata, chunks and, on request, its vector."""
    found = await services.call(services.task(queues.GET_DOCUMENT, collection, doc_id, with_vector))
    return StoredDocument.model_validate(found)


@router.delete("/{doc_id}", status_code=202, response_model=TaskAccepted)
async def delete_document(
    collection: CollectionName, doc_id: str, services: ServicesDep
) -> TaskAccepted:
    """Queue the removal of a document and all its chunks; poll the task for `deleted`."""
    task_id = await services.submit(
        services.task(queues.DELETE_DOCUMENT, collection, doc_id),
        collection=collection,
    )
    return TaskAccepted(task_id=task_id)
