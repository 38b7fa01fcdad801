"""Which point a document's chunk is: ids derived exactly, forever, from what the client
named. Shared by every engine, `store migrate`, and the ids' one-time upgrade."""

from __future__ import annotations

import json
import uuid
from typing import Any

# Fixed forever: point ids derive from it, so changing it would duplicate every document.
POINT_NAMESPACE = uuid.UUID("5b8e3c52-7f3a-4a7e-9d61-2c0f0c6f1e7d")


# How point ids are derived. 1: uuid5 of "{collection}/{doc_id}" ("…#{chunk}" for chunks),
# under which a document `x#0` and chunk 0 of `x` were one point. 2: the key is a JSON array.
ID_SCHEME = 2


def point_id(collection: str, doc_id: str, chunk: int | None = None) -> str:
    """Deterministic (a re-sent or redelivered document overwrites itself) and exact: the key
    is a JSON array, so no two (collection, document, chunk) share an id."""
    key = json.dumps([collection, doc_id, chunk], ensure_ascii=False)
    return str(uuid.uuid5(POINT_NAMESPACE, key))


def exact_id(collection: str, payload: dict[str, Any]) -> str:
    """The id a stored point's payload gives it (it may sit under an id of an older scheme)."""
    chunk = payload.get("chunk")
    return point_id(collection, payload["doc_id"], chunk["index"] if chunk else None)


def collection_record(model: str, dimension: int, fingerprint: str = "") -> dict[str, Any]:
    """What a new collection records of itself: its model, and the fingerprint of the model
    files its vectors come from (embedapp.model.fingerprint)."""
    record = {"model": model, "dimension": dimension, "id_scheme": ID_SCHEME}
    return {**record, "fingerprint": fingerprint} if fingerprint else record
