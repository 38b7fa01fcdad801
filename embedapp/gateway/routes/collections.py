"""Collections: what is stored, with which model; search; delete."""

from fastapi import APIRouter, Depends

from embedapp import queues
from embedapp.apikeys import Scope
from embedapp.gateway.deps import (
    AdminCollection,
    PrincipalDep,
    ReadCollection,
    ServicesDep,
    needs,
)
from embedapp.schemas import (
    CollectionInfo,
    CollectionList,
    SearchRequest,
    SearchResponse,
    TaskAccepted,
)

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("", response_model=CollectionList, dependencies=[Depends(needs(Scope.read))])
async def list_collections(services: ServicesDep, principal: PrincipalDep) -> CollectionList:
    """Every collection (that this API key reaches) with its point count, dimension and model."""
    found = await services.call(services.task(queues.LIST_COLLECTIONS))
    return CollectionList(collections=[c for c in found if principal.sees(c["name"])])


@router.get("/{collection}", response_model=CollectionInfo)
async def get_collection(collection: ReadCollection, services: ServicesDep) -> CollectionInfo:
    """A collection's point count, dimension and model."""
    found = await services.call(services.task(queues.COLLECTION_INFO, collection))
    return CollectionInfo.model_validate(found)


@router.delete("/{collection}", status_code=202, response_model=TaskAccepted)
async def delete_collection(collection: AdminCollection, services: ServicesDep) -> TaskAccepted:
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
    collection: ReadCollection, body: SearchRequest, services: ServicesDep
) -> SearchResponse:
    """The documents nearest to a query; the query is embedded on the interactive lane,
    micro-batched with concurrent queries and embeddings calls."""
    query = await services.embed([body.query], field="query")
    found = await services.call(
        services.task(
            queues.SEARCH,
            query.model_dump(),
            collection,
            argsrepr=f"(query vector, {collection!r})",
            top_k=body.top_k,
            conditions=body.filter.model_dump(mode="json", by_alias=True, exclude_defaults=True),
            score_threshold=body.score_threshold,
            with_text=body.with_text,
        )
    )
    return SearchResponse.model_validate(found)
