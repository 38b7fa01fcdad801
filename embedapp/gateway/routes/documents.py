"""Documents: ingest (a queued job), read back, delete."""

import uuid

from fastapi import APIRouter

from embedapp import queues
from embedapp.gateway import limits
from embedapp.gateway.deps import ReadCollection, ServicesDep, WriteCollection
from embedapp.messages import DocumentIn
from embedapp.schemas import IngestAccepted, IngestRequest, StoredDocument, TaskAccepted

router = APIRouter(prefix="/v1/collections/{collection}/documents", tags=["documents"])


@router.post("", status_code=202, response_model=IngestAccepted)
async def ingest(
    collection: WriteCollection, body: IngestRequest, services: ServicesDep
) -> IngestAccepted:
    """Queue documents for embedding; answers 202 once RabbitMQ has confirmed the job."""
    settings = services.settings
    limits.check_ingest(body, settings)
    # Before asking the store anything: a lagging store worker would not answer in time.
    await services.publisher.check_store_backlog()
    model = await services.collections.model(collection)
    if body.chunking:
        limits.check_chunking(body.chunking, await services.served_model(model), settings)
    points = limits.point_bounds(body, settings)
    documents = [
        DocumentIn(id=doc.id or uuid.uuid4().hex, text=doc.text, metadata=doc.metadata)
        for doc in body.documents
    ]
    task_id = await services.submit_ingest(collection, model, documents, body.chunking, points)
    return IngestAccepted(
        task_id=task_id,
        collection=collection,
        count=len(documents),
        ids=[doc.id for doc in documents],
    )


@router.get("/{doc_id:path}", response_model=StoredDocument, response_model_exclude_none=True)
async def get_document(
    collection: ReadCollection, doc_id: str, services: ServicesDep, with_vector: bool = False
) -> StoredDocument:
    """A stored document: its text, metadata, chunks and, on request, its vector."""
    found = await services.call(services.task(queues.GET_DOCUMENT, collection, doc_id, with_vector))
    return StoredDocument.model_validate(found)


@router.delete("/{doc_id:path}", status_code=202, response_model=TaskAccepted)
async def delete_document(
    collection: WriteCollection, doc_id: str, services: ServicesDep
) -> TaskAccepted:
    """Queue the removal of a document and all its chunks; poll the task for `deleted`.
    An ingest of it accepted before this delete does not store it again, even if it is still
    on its way; one accepted after does."""
    version = await services.clock.stamp()
    task_id = await services.submit(
        services.task(queues.DELETE_DOCUMENT, collection, doc_id, version),
        collection=collection,
    )
    return TaskAccepted(task_id=task_id)
