"""Collections: what is stored, and with which model."""

from fastapi import APIRouter

from celeryconfig import STORE_QUEUE
from embedapp.errors import NotFoundError
from embedapp.gateway.deps import CollectionName, ServicesDep
from embedapp.schemas import CollectionInfo

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("/{collection}", response_model=CollectionInfo)
async def get_collection(collection: CollectionName, services: ServicesDep) -> CollectionInfo:
    """A collection's point count, dimension and model."""
    found = await services.call("embedapp.store.collection_info", collection, queue=STORE_QUEUE)
    if found is None:
        raise NotFoundError(f"no collection {collection!r}")
    return CollectionInfo.model_validate(found)
