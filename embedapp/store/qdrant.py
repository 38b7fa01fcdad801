"""Qdrant: collections, upserts, reads, search and deletes, on an embedded path or a server URL.

Embedded storage admits one process, so only the `store` queue's consumer opens it.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models

from embedapp.errors import ConflictError, NotFoundError
from embedapp.schemas import CollectionInfo, FilterValue, SearchHit, StoredChunk, StoredDocument
from embedapp.settings import Settings

# Fixed forever: point ids derive from it, so changing it would duplicate every document.
POINT_NAMESPACE = uuid.UUID("5b8e3c52-7f3a-4a7e-9d61-2c0f0c6f1e7d")
UPSERT_BATCH = 256


def point_id(collection: str, doc_id: str, chunk: int | None = None) -> str:
    """Deterministic id: a re-sent or redelivered document overwrites itself."""
    key = f"{collection}/{doc_id}" if chunk is None else f"{collection}/{doc_id}#{chunk}"
    return str(uuid.uuid5(POINT_NAMESPACE, key))


def open_store(settings: Settings) -> VectorStore:
    """The configured Qdrant server, else the embedded store under the data dir."""
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return VectorStore(QdrantClient(url=settings.qdrant_url, api_key=api_key), server=True)
    path = settings.embedded_qdrant_path
    path.mkdir(parents=True, exist_ok=True)
    return VectorStore(QdrantClient(path=str(path)), server=False)


def _doc_filter(doc_id: str) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]
    )


def metadata_filter(conditions: dict[str, FilterValue]) -> models.Filter | None:
    """Each metadata field equal to a value, or to any of a list of values."""
    if not conditions:
        return None
    must: list[Any] = [
        models.FieldCondition(
            key=f"metadata.{field}",
            match=models.MatchAny(any=value)
            if isinstance(value, list)
            else models.MatchValue(value=value),
        )
        for field, value in conditions.items()
    ]
    return models.Filter(must=must)


class VectorStore:
    """The operations embedapp needs from Qdrant."""

    def __init__(self, client: QdrantClient, *, server: bool) -> None:
        self.client = client
        self.server = server

    def _sqlite(self, name: str) -> sqlite3.Connection | None:
        """The SQLite file behind an embedded collection (qdrant-client's local storage)."""
        collection = getattr(self.client._client, "collections", {}).get(name)
        return getattr(getattr(collection, "storage", None), "storage", None)

    @contextmanager
    def _synced_once(self, name: str) -> Iterator[None]:
        """Embedded writes made durable by one sync at the end instead of one per point.

        Embedded Qdrant commits every point on its own, and each commit waits for the disk:
        beside a busy broker a 500-point job took seconds. In WAL mode with synchronous=NORMAL
        commits do not sync; the checkpoint syncs them all before the task acks.
        """
        db = None if self.server else self._sqlite(name)
        if db is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        yield
        if db is not None:
            db.execute("PRAGMA wal_checkpoint(FULL)")

    def check_model(self, name: str, *, model: str, dimension: int | None = None) -> bool:
        """Whether the collection exists; ConflictError if it holds another model's vectors."""
        if not self.client.collection_exists(name):
            return False
        info = self.info(name)
        if info.model != model or (dimension is not None and info.dimension != dimension):
            raise ConflictError(
                f"collection {name!r} holds {info.dimension}-d vectors of model {info.model!r}; "
                f"this service embeds with {model!r}. Use another collection, or delete this one."
            )
        return True

    def ensure_collection(self, name: str, *, dimension: int, model: str) -> None:
        """Create the collection on first use; refuse vectors from another model."""
        if not self.check_model(name, model=model, dimension=dimension):
            self.client.create_collection(
                name,
                vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                metadata={"model": model, "dimension": dimension},
            )
            if self.server:  # embedded Qdrant scans; a server needs the index for fast deletes
                self.client.create_payload_index(name, "doc_id", models.PayloadSchemaType.KEYWORD)

    def stored_versions(
        self, name: str, doc_ids: Sequence[str]
    ) -> dict[str, tuple[str, list[str]]]:
        """For each stored document: its content hash and the ids of all its points."""
        if not self.client.collection_exists(name):
            return {}
        ids = [pid for d in doc_ids for pid in (point_id(name, d), point_id(name, d, 0))]
        found = self.client.retrieve(name, ids, with_payload=["doc_id", "content_hash", "chunk"])
        versions = {}
        for point in found:
            payload = point.payload or {}
            doc_id, chunk = payload["doc_id"], payload.get("chunk")
            points = (
                [point_id(name, doc_id, k) for k in range(chunk["count"])]
                if chunk
                else [point_id(name, doc_id)]
            )
            versions[doc_id] = (payload["content_hash"], points)
        return versions

    def upsert(self, name: str, points: Sequence[models.PointStruct]) -> int:
        """Write points in batches."""
        with self._synced_once(name):
            for start in range(0, len(points), UPSERT_BATCH):
                self.client.upsert(name, list(points[start : start + UPSERT_BATCH]), wait=True)
        return len(points)

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        """Remove points by id (left-over chunks of a document that changed)."""
        if ids:
            with self._synced_once(name):
                self.client.delete(name, models.PointIdsList(points=list(ids)), wait=True)

    def info(self, name: str) -> CollectionInfo:
        """Size, dimension and model of a collection."""
        if not self.client.collection_exists(name):
            raise NotFoundError(f"no collection {name!r}")
        found = self.client.get_collection(name)
        metadata = found.config.metadata or {}
        params = found.config.params.vectors
        assert isinstance(params, models.VectorParams)  # we only create single-vector collections
        points = self.client.count(name, exact=True).count
        return CollectionInfo(
            name=name, points=points, dimension=params.size, model=metadata.get("model")
        )

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection, by name."""
        names = sorted(c.name for c in self.client.get_collections().collections)
        return [self.info(name) for name in names]

    def get_document(self, name: str, doc_id: str, *, with_vector: bool = False) -> StoredDocument:
        """One stored document, its chunks reassembled; NotFoundError if absent."""
        points = []
        if self.client.collection_exists(name):
            points, _ = self.client.scroll(
                name,
                scroll_filter=_doc_filter(doc_id),
                limit=10_000,
                with_payload=True,
                with_vectors=with_vector,
            )
        if not points:
            raise NotFoundError(f"no document {doc_id!r} in collection {name!r}")
        payloads = sorted(
            (p.payload or {} for p in points), key=lambda p: p.get("chunk", {}).get("index", 0)
        )
        first = payloads[0]
        if "chunk" not in first:
            vector = points[0].vector if with_vector else None
            return StoredDocument(
                id=doc_id,
                text=first["text"],
                metadata=first["metadata"],
                model=first["model"],
                content_hash=first["content_hash"],
                vector=vector if isinstance(vector, list) else None,
            )
        chunks = [StoredChunk(text=p["text"], **p["chunk"]) for p in payloads]
        return StoredDocument(
            id=doc_id,
            text=_reassemble(chunks),
            metadata=first["metadata"],
            model=first["model"],
            content_hash=first["content_hash"],
            chunks=chunks,
        )

    def delete_document(self, name: str, doc_id: str) -> int:
        """Remove a document and all its chunks; how many points went."""
        if not self.client.collection_exists(name):
            raise NotFoundError(f"no collection {name!r}")
        count = self.client.count(name, count_filter=_doc_filter(doc_id), exact=True).count
        if count == 0:
            raise NotFoundError(f"no document {doc_id!r} in collection {name!r}")
        with self._synced_once(name):
            self.client.delete(name, models.FilterSelector(filter=_doc_filter(doc_id)), wait=True)
        return count

    def delete_collection(self, name: str) -> int:
        """Remove a collection; how many points it held."""
        points = self.info(name).points
        self.client.delete_collection(name)
        return points

    def search(
        self,
        name: str,
        vector: Sequence[float],
        *,
        top_k: int,
        conditions: dict[str, FilterValue],
        with_text: bool,
    ) -> list[SearchHit]:
        """The nearest points, best first."""
        if not self.client.collection_exists(name):
            raise NotFoundError(f"no collection {name!r}")
        found = self.client.query_points(
            name,
            query=list(vector),
            limit=top_k,
            query_filter=metadata_filter(conditions),
            with_payload=True,
        ).points
        return [
            SearchHit(
                id=p["doc_id"],
                score=point.score,
                text=p["text"] if with_text else None,
                metadata=p.get("metadata", {}),
                chunk=p.get("chunk"),
            )
            for point in found
            for p in [point.payload or {}]
        ]


def _reassemble(chunks: Sequence[StoredChunk]) -> str:
    """The document's text from its overlapping chunks (each an exact slice of it)."""
    text, covered = "", chunks[0].start
    for chunk in chunks:
        if chunk.end > covered:
            text += chunk.text[max(0, covered - chunk.start) :]
            covered = chunk.end
    return text
