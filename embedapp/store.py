"""Qdrant: collections, upserts and reads, on an embedded path or a server URL.

Embedded storage admits one process, so only the `store` queue's consumer opens it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from embedapp.errors import ConflictError
from embedapp.schemas import CollectionInfo, StoredDocument
from embedapp.settings import Settings

# Fixed forever: point ids derive from it, so changing it would duplicate every document.
POINT_NAMESPACE = uuid.UUID("5b8e3c52-7f3a-4a7e-9d61-2c0f0c6f1e7d")
UPSERT_BATCH = 256


def point_id(collection: str, doc_id: str) -> str:
    """Deterministic id: a re-sent or redelivered document overwrites itself."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{collection}/{doc_id}"))


def open_client(settings: Settings) -> QdrantClient:
    """A client for the configured Qdrant server, else for the embedded store."""
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantClient(url=settings.qdrant_url, api_key=api_key)
    path = settings.embedded_qdrant_path
    path.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(path))


class VectorStore:
    """The operations embedapp needs from Qdrant."""

    def __init__(self, client: QdrantClient) -> None:
        self.client = client

    def ensure_collection(self, name: str, *, dimension: int, model: str) -> None:
        """Create the collection on first use; refuse vectors from another model."""
        if not self.client.collection_exists(name):
            self.client.create_collection(
                name,
                vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                metadata={"model": model, "dimension": dimension},
            )
            return
        info = self.info(name)
        if info.model != model or info.dimension != dimension:
            raise ConflictError(
                f"collection {name!r} holds {info.dimension}-d vectors of model {info.model!r}; "
                f"this worker embeds {dimension}-d vectors with {model!r}"
            )

    def upsert(
        self,
        collection: str,
        *,
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[dict[str, Any]],
    ) -> int:
        """Write points in batches; ids come from each payload's doc_id."""
        points = [
            models.PointStruct(id=point_id(collection, p["doc_id"]), vector=list(v), payload=p)
            for v, p in zip(vectors, payloads, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self.client.upsert(collection, points[start : start + UPSERT_BATCH], wait=True)
        return len(points)

    def info(self, name: str) -> CollectionInfo:
        """Size, dimension and model of a collection."""
        found = self.client.get_collection(name)
        metadata = found.config.metadata or {}
        params = found.config.params.vectors
        assert isinstance(params, models.VectorParams)  # we only create single-vector collections
        points = self.client.count(name, exact=True).count
        return CollectionInfo(
            name=name, points=points, dimension=params.size, model=metadata.get("model")
        )

    def get_document(
        self, collection: str, doc_id: str, *, with_vector: bool = False
    ) -> StoredDocument | None:
        """One stored document, or None."""
        if not self.client.collection_exists(collection):
            return None
        found = self.client.retrieve(
            collection, [point_id(collection, doc_id)], with_payload=True, with_vectors=with_vector
        )
        if not found:
            return None
        payload = found[0].payload or {}
        vector = found[0].vector if with_vector else None
        return StoredDocument(
            id=payload["doc_id"],
            text=payload["text"],
            metadata=payload.get("metadata", {}),
            model=payload["model"],
            content_hash=payload["content_hash"],
            vector=list(vector) if isinstance(vector, list) else None,
        )
