"""Collections: what is stored, with which model; search; delete."""

from fastapi import APIRouter

from embedapp import queues
from embedapp.gateway.deps import CollectionName, ServicesDep
from embedapp.schemas import (
    CollectionInfo,
    CollectionList,
    SearchRequest,
    SearchResponse,
    TaskAccepted,
)

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("", response_model=CollectionList)
async def list_collections(services: ServicesDep) -> CollectionList:
    """Every collection with its point count, dimension and model."""
    found = await services.call(services.task(queues.LIST_COLLECTIONS))
    return CollectionList(collections=found)


@router.get("/{collection}", response_model=CollectionInfo)
async def get_collection(collection: CollectionName, services: ServicesDep) -> CollectionInfo:
    """A collection's point count, dimension and model."""
    found = await services.call(services.task(queues.COLLECTION_INFO, collection))
    return CollectionInfo.model_validate(found)


@router.delete("/{collection}", status_code=202, response_model=TaskAccepted)
async def delete_collection(collection: CollectionName, services: ServicesDep) -> TaskAccepted:
    """Queue the removal of a collection and everything in it."""
    services.forget_collection(collection)
    task_id = await services.submit(
        services.task(queues.DELETE_COLLECTION, collection),
        collection=collection,
    )
    return TaskAccepted(task_id=task_id)


@router.post(
    "/{collection}/search", response_model=SearchResponse, response_model_exclude_none=True
)
async def search(
    collection: CollectionName, body: SearchRequest, services: ServicesDep
) -> SearchResponse:
    """The documents nearest to a query; the query is embedded on the interactive lane,
    micro-batched with concurrent queries and embeddings calls."""
    query = await services.embed([body.query])
    found = await services.call(
        services.task(
            queues.SEARCH,
            query.model_dump(),
            collection,
            argsrepr=f"(query vector, {collection!r})",
            top_k=body.top_k,
            conditions=body.filter,
            with_text=body.with_text,
        )
    )
    return SearchResponse.model_validate(found)
