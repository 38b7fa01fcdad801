"""Collections: what is stored, with which model; search; delete."""

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from embedapp import queues
from embedapp.apikeys import Scope
from embedapp.errors import ConflictError
from embedapp.gateway.deps import (
    AdminCollection,
    PrincipalDep,
    ReadCollection,
    ServicesDep,
    needs,
)
from embedapp.schemas import (
    CollectionCreate,
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


@router.put(
    "/{collection}",
    response_model=CollectionInfo,
    responses={201: {"model": CollectionInfo, "description": "Created."}},
)
async def create_collection(
    collection: AdminCollection, body: CollectionCreate, services: ServicesDep
) -> JSONResponse:
    """A collection for one of the served models (ingest alone makes one for the default
    model): 201 when made, 200 when it exists with that model, 409 with another."""
    model = services.model_named(body.model)
    served = await services.loaded_model(model)
    found = await services.call(
        services.task(
            queues.CREATE_COLLECTION, collection, model, served.dimension, served.fingerprint
        )
    )
    services.collections.remember(collection, model)
    info = CollectionInfo.model_validate(found["collection"])
    return JSONResponse(info.model_dump(mode="json"), status_code=201 if found["created"] else 200)


@router.delete("/{collection}", status_code=202, response_model=TaskAccepted)
async def delete_collection(collection: AdminCollection, services: ServicesDep) -> TaskAccepted:
    """Queue the removal of a collection and everything in it."""
    services.collections.forget(collection)
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
    micro-batched with concurrent queries and embeddings calls, by the collection's model."""
    try:
        return await _search(collection, body, services)
    except ConflictError:
        # Our view of the collection's model was older than a migration: ask again, once.
        services.collections.forget(collection)
        return await _search(collection, body, services)


async def _search(collection: str, body: SearchRequest, services: ServicesDep) -> SearchResponse:
    model = await services.collections.model(collection)
    query = await services.embed([body.query], field="query", model=model)
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
            hnsw_ef=body.hnsw_ef,
            exact=body.exact,
        )
    )
    if found.get("serves") not in (None, model):  # switched by a migration meanwhile
        services.collections.remember(collection, found["serves"])
    return SearchResponse.model_validate(found)
