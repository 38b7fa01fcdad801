"""Store tasks a client's request waits for: read a document, search, describe, create and
delete collections and documents (embedapp.worker.store owns the store and writes ingests)."""

from typing import Any

from embedapp import filters, queues
from embedapp.celery_app import celery_app
from embedapp.errors import NotFoundError
from embedapp.messages import EmbeddedTexts, decode_vector
from embedapp.schemas import CollectionInfo
from embedapp.settings import get_settings
from embedapp.store import VectorStore, versions
from embedapp.store.hash_index import get_hash_index
from embedapp.worker.store import RETRIES, owned_store


@celery_app.task(name=queues.GET_DOCUMENT, **RETRIES)
def get_document(collection: str, doc_id: str, with_vector: bool = False) -> dict[str, Any]:
    """One stored document (of the served version), read through the store's owner."""
    store = owned_store()
    stored = versions.serving(store, collection)
    try:
        return store.get_document(stored, doc_id, with_vector=with_vector).model_dump()
    except NotFoundError as exc:
        raise NotFoundError(f"no document {doc_id!r} in collection {collection!r}") from exc


def _info(store: VectorStore, collection: str) -> CollectionInfo:
    if not store.exists(stored := versions.serving(store, collection)):
        raise NotFoundError(f"no collection {collection!r}")
    return store.info(stored).model_copy(update={"name": collection})


@celery_app.task(name=queues.COLLECTION_INFO, **RETRIES)
def collection_info(collection: str) -> dict[str, Any]:
    """A collection's size, dimension and model (of the version it serves)."""
    return _info(owned_store(), collection).model_dump()


@celery_app.task(name=queues.CREATE_COLLECTION, **RETRIES)
def create_collection(
    collection: str, model: str, dimension: int, fingerprint: str
) -> dict[str, Any]:
    """Make a collection for a model, unless it exists (ConflictError: for another model)."""
    store = owned_store()
    stored = versions.serving(store, collection)
    existed = store.exists(stored)
    store.ensure_collection(stored, dimension=dimension, model=model, fingerprint=fingerprint)
    return {"created": not existed, "collection": _info(store, collection).model_dump()}


@celery_app.task(name=queues.LIST_COLLECTIONS, **RETRIES)
def list_collections() -> list[dict[str, Any]]:
    """Every collection."""
    store = owned_store()
    return [_info(store, name).model_dump() for name in versions.names(store)]


@celery_app.task(name=queues.DELETE_DOCUMENT, **RETRIES)
def delete_document(collection: str, doc_id: str, version: int = 0) -> dict[str, Any]:
    """Remove a document and all its chunks from every live version, unless a write
    accepted later stored it; the count is the served version's."""
    store = owned_store()
    counts = [store.delete_document(v, doc_id, version) for v in versions.live(store, collection)]
    get_hash_index().forget(collection, [doc_id])
    return {"kind": "delete", "collection": collection, "deleted": counts[0]}


@celery_app.task(name=queues.DELETE_COLLECTION, **RETRIES)
def delete_collection(collection: str) -> dict[str, Any]:
    """Remove a collection, every version of it, and everything in them."""
    store = owned_store()
    found = versions.live(store, collection)
    if not any(store.exists(v) for v in found):
        raise NotFoundError(f"no collection {collection!r}")
    deleted = [store.delete_collection(v) for v in found if store.exists(v)]
    versions.set_entry(store, collection, None)
    get_hash_index().forget(collection)
    return {"kind": "delete", "collection": collection, "deleted": deleted[0]}


@celery_app.task(name=queues.SEARCH, **RETRIES)
def search(
    query: dict[str, Any],
    collection: str,
    *,
    top_k: int,
    conditions: dict[str, Any],
    with_text: bool,
    score_threshold: float | None = None,
    hnsw_ef: int | None = None,
    exact: bool = False,
) -> dict[str, Any]:
    """The nearest documents to a query the gateway had embedded (micro-batched), in the
    version holding the query's model: the served one, or during and after a migration the
    other live one (a gateway that has not seen the switch yet); never across models."""
    embedded = EmbeddedTexts.model_validate(query)
    store = owned_store()
    stored = versions.of_model(store, collection, embedded.model) or versions.serving(
        store, collection
    )
    if not store.check_model(stored, model=embedded.model, fingerprint=embedded.fingerprint):
        raise NotFoundError(f"no collection {collection!r}")
    hits = store.search(
        stored,
        decode_vector(embedded.vectors_b64[0]),
        top_k=top_k,
        where=filters.parse(conditions),
        score_threshold=score_threshold,
        with_text=with_text,
        hnsw_ef=hnsw_ef or get_settings().search_hnsw_ef,
        exact=exact,
    )
    hits_out = [h.model_dump(exclude_none=True) for h in hits]
    # Which model the collection serves now: a gateway that still embeds its queries with
    # the model it served before a switch learns of it here.
    serves = store.describe(versions.serving(store, collection))[0]
    return {"model": embedded.model, "hits": hits_out, "serves": serves}
