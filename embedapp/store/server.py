"""The VectorStore on qdrant-client: a Qdrant server (EMBEDAPP_QDRANT_URL), or qdrant-client's
local mode, which speaks the same API in-process (small data; the tests' stand-in for a server,
and the store that `embedapp store migrate` reads from)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models

from embedapp import filters
from embedapp.store import filtering
from embedapp.store.base import MAX_DOCUMENT_POINTS, UPSERT_BATCH, VectorStore
from embedapp.store.points import Found, Point


def _equal(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _at_least(key: str, value: int) -> models.FieldCondition:
    return models.FieldCondition(key=key, range=models.Range(gte=value))


def _older(doc_id: str, version: int) -> models.Filter:
    """A document's points of versions before `version` (a point without one is older)."""
    return models.Filter(must=[_equal("doc_id", doc_id)], must_not=[_at_least("version", version)])


def _doc_filter(doc_id: str) -> models.Filter:
    return models.Filter(must=[_equal("doc_id", doc_id)])


KIT = filtering.Kit(
    filter=lambda must, should, must_not: models.Filter(
        must=must or None, should=should or None, must_not=must_not or None
    ),
    value=lambda key, value: models.FieldCondition(key=key, match=models.MatchValue(value=value)),
    any=lambda key, values: models.FieldCondition(key=key, match=models.MatchAny(any=values)),
    except_=lambda key, values: models.FieldCondition(
        key=key, match=models.MatchExcept(**{"except": values})
    ),
    range=lambda key, bounds: models.FieldCondition(key=key, range=models.Range(**bounds)),
    dates=lambda key, bounds: models.FieldCondition(key=key, range=models.DatetimeRange(**bounds)),
    is_empty=lambda key: models.IsEmptyCondition(is_empty=models.PayloadField(key=key)),
    is_null=lambda key: models.IsNullCondition(is_null=models.PayloadField(key=key)),
)


class ServerStore(VectorStore):
    """Collections of a Qdrant server (or of qdrant-client's local mode, `server=False`)."""

    def __init__(self, client: QdrantClient, *, server: bool) -> None:
        self.client = client
        self.server = server

    def _sqlite(self, name: str) -> sqlite3.Connection | None:
        """The SQLite file behind a local-mode collection."""
        collection = getattr(self.client._client, "collections", {}).get(name)
        return getattr(getattr(collection, "storage", None), "storage", None)

    @contextmanager
    def _synced_once(self, name: str) -> Iterator[None]:
        """Local-mode writes made durable by one sync at the end instead of one per point.

        Local mode commits every point on its own, and each commit waits for the disk. In WAL
        mode with synchronous=NORMAL commits do not sync; the checkpoint syncs them all.
        """
        db = None if self.server else self._sqlite(name)
        if db is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        yield
        if db is not None:
            db.execute("PRAGMA wal_checkpoint(FULL)")

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def names(self) -> list[str]:
        return [c.name for c in self.client.get_collections().collections]

    def create(self, name: str, *, dimension: int, record: dict[str, Any]) -> None:
        self.client.create_collection(
            name,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            metadata=record,
        )
        if self.server:  # local mode scans; a server needs the index for fast deletes
            self.client.create_payload_index(name, "doc_id", models.PayloadSchemaType.KEYWORD)

    def describe(self, name: str) -> tuple[str | None, int]:
        config = self.client.get_collection(name).config
        params = config.params.vectors
        assert isinstance(params, models.VectorParams)  # we only create single-vector collections
        return (config.metadata or {}).get("model"), params.size

    def record(self, name: str) -> dict[str, Any]:
        return self.client.get_collection(name).config.metadata or {}

    def set_record(self, name: str, record: dict[str, Any]) -> None:
        self.client.update_collection(name, metadata=record)

    def count(self, name: str, doc_id: str | None = None) -> int:
        selected = _doc_filter(doc_id) if doc_id is not None else None
        return self.client.count(name, count_filter=selected, exact=True).count

    def retrieve(self, name: str, ids: Sequence[str], fields: Sequence[str]) -> list[Found]:
        found = self.client.retrieve(name, list(ids), with_payload=list(fields))
        return [Found(payload=point.payload or {}) for point in found]

    def document_points(self, name: str, doc_id: str, *, with_vector: bool) -> list[Found]:
        points, _ = self.client.scroll(
            name,
            scroll_filter=_doc_filter(doc_id),
            limit=MAX_DOCUMENT_POINTS,
            with_payload=True,
            with_vectors=with_vector,
        )
        return [
            Found(payload=p.payload or {}, vector=p.vector if isinstance(p.vector, list) else None)
            for p in points
        ]

    def upsert(self, name: str, points: Sequence[Point], *, version: int | None = None) -> int:
        structs = [models.PointStruct(id=p.id, vector=p.vector, payload=p.payload) for p in points]
        older = None if version is None else models.Filter(must_not=[_at_least("version", version)])
        with self._synced_once(name):
            for start in range(0, len(structs), UPSERT_BATCH):
                batch = structs[start : start + UPSERT_BATCH]
                self.client.upsert(name, batch, wait=True, update_filter=older)
        return len(points)

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            with self._synced_once(name):
                self.client.delete(name, models.PointIdsList(points=list(ids)), wait=True)

    def delete_older(self, name: str, versions: Mapping[str, int]) -> None:
        pairs = list(versions.items())
        with self._synced_once(name):
            for start in range(0, len(pairs), UPSERT_BATCH):
                older = [
                    _older(doc_id, version)
                    for doc_id, version in pairs[start : start + UPSERT_BATCH]
                ]
                selector = models.FilterSelector(filter=models.Filter(should=older))
                self.client.delete(name, selector, wait=True)

    def set_version(self, name: str, doc_ids: Sequence[str], version: int) -> None:
        if doc_ids:
            older = models.Filter(
                must=[
                    models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(doc_ids)))
                ],
                must_not=[_at_least("version", version)],
            )
            with self._synced_once(name):
                self.client.set_payload(name, {"version": version}, points=older, wait=True)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def nearest(
        self,
        name: str,
        vector: Sequence[float],
        *,
        top_k: int,
        where: filters.Filter,
        score_threshold: float | None,
        hnsw_ef: int | None,
        exact: bool,
    ) -> list[Found]:
        # Local mode always compares every point: it has no index to ask (and warns if asked).
        params = models.SearchParams(hnsw_ef=hnsw_ef, exact=exact) if self.server else None
        found = self.client.query_points(
            name,
            query=list(vector),
            limit=top_k,
            query_filter=filtering.build(where, KIT),
            score_threshold=score_threshold,
            search_params=params,
            with_payload=True,
        ).points
        return [Found(payload=p.payload or {}, score=p.score) for p in found]

    def scroll_page(
        self,
        name: str,
        offset: str | None,
        limit: int,
        *,
        with_vector: bool = True,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[Point], str | None]:
        payload = True if fields is None else list(fields)
        found, following = self.client.scroll(
            name, limit=limit, offset=offset, with_payload=payload, with_vectors=with_vector
        )
        points = [
            Point(
                id=str(p.id), vector=list(p.vector) if with_vector else [], payload=p.payload or {}
            )  # type: ignore[arg-type]
            for p in found
        ]
        return points, None if following is None else str(following)

    def close(self) -> None:
        self.client.close()
