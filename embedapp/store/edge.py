"""The VectorStore on Qdrant Edge: Qdrant's engine in-process, a shard per collection.

Qdrant Edge is beta (pinned in pyproject.toml); this module is the only one that talks to it.
Layout under the store's folder: `<collection>/collection.json` (model, dimension: written
last, so a half-created collection does not exist) and `<collection>/shard/`. A shard admits
one process (its WAL is locked), which is why only the store worker opens it.

HNSW indexes are built off the request path (see `embedapp.store.indexer`): `optimize()`
holds the GIL for its whole run, so in this process it would stall every search.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    IsEmptyCondition,
    IsNullCondition,
    MatchAny,
    MatchExcept,
    MatchValue,
    PayloadSchemaType,
    QueryRequest,
    RangeDateTime,
    RangeFloat,
    ScrollRequest,
    SearchParams,
    UpdateOperation,
)
from qdrant_edge import Point as EdgePoint
from qdrant_edge import Query as EdgeQuery

from embedapp import filters
from embedapp.store import filtering
from embedapp.store.base import MAX_DOCUMENT_POINTS, UPSERT_BATCH, VectorStore
from embedapp.store.indexer import IndexBuilds
from embedapp.store.points import Found, Point

log = logging.getLogger(__name__)

RECORD = "collection.json"
SHARD = "shard"
# A metadata filter's field gets a payload index of its first condition's kind on first use.
INDEX_KIND = {
    "keyword": PayloadSchemaType.Keyword,
    "integer": PayloadSchemaType.Integer,
    "bool": PayloadSchemaType.Bool,
    "float": PayloadSchemaType.Float,
    "datetime": PayloadSchemaType.Datetime,
}
KIT = filtering.Kit(
    filter=lambda must, should, must_not: Filter(
        must=must or None, should=should or None, must_not=must_not or None
    ),
    value=lambda key, value: FieldCondition(key, match=_value(value)),
    any=lambda key, values: FieldCondition(key, match=MatchAny(values)),
    except_=lambda key, values: FieldCondition(key, match=MatchExcept(values)),
    range=lambda key, bounds: FieldCondition(key, range=RangeFloat(**bounds)),
    dates=lambda key, bounds: FieldCondition(key, range=RangeDateTime(**bounds)),
    is_empty=IsEmptyCondition,
    is_null=IsNullCondition,
)


def _value(value: str | int | bool) -> MatchValue:
    # qdrant-edge 0.9.0 reads a Python bool as an integer (bool is an int) and then never
    # matches a boolean payload; numpy's bool_ is no int, so it is read as a boolean.
    return MatchValue(np.bool_(value) if isinstance(value, bool) else value)


def _match(key: str, value: str | list[str]) -> FieldCondition:
    match = MatchAny(value) if isinstance(value, list) else MatchValue(value)
    return FieldCondition(key=key, match=match)


def _at_least(key: str, value: int) -> FieldCondition:
    return FieldCondition(key=key, range=RangeFloat(gte=value))


def _older(doc_id: str, version: int) -> Filter:
    """A document's points of versions before `version` (a point without one is older)."""
    return Filter(must=[_match("doc_id", doc_id)], must_not=[_at_least("version", version)])


def _doc_filter(doc_id: str) -> Filter:
    return Filter(must=[_match("doc_id", doc_id)])


class EdgeStore(VectorStore):
    """Collections as Qdrant Edge shards under one folder."""

    def __init__(self, root: Path, *, index_after_points: int) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, EdgeShard] = {}
        self._builds = IndexBuilds(index_after_points=index_after_points)

    def _folder(self, name: str) -> Path:
        return self.root / name

    def _shard(self, name: str) -> EdgeShard:
        """The open shard, with a finished index build swapped in first."""
        shard = self._shards.get(name)
        if shard is None:
            folder = self._folder(name)
            IndexBuilds.recover(folder / SHARD)
            shard = self._shards[name] = EdgeShard.load(str(folder / SHARD))
        if self._builds.ready(name):
            shard.close()
            shard = self._shards[name] = self._builds.swap_in(name, self._folder(name) / SHARD)
        return shard

    def _update(self, name: str, operation: UpdateOperation) -> None:
        self._shard(name).update(operation)
        self._builds.record(name, operation)

    def _flushed(self, name: str, *, build_now: bool = False) -> None:
        """On disk before the store task acks; then an index build, if one is due."""
        shard = self._shard(name)
        shard.flush()
        self._builds.maybe_start(name, shard, self._folder(name) / SHARD, now=build_now)

    def build_index(self, name: str) -> None:
        """Start building the collection's HNSW index now, whatever the threshold."""
        self._flushed(name, build_now=True)

    def indexing(self, name: str) -> bool:
        """Whether an index build of the collection has not been swapped in yet (the first
        operation on the collection after the build finished swaps it in)."""
        return self._builds.running(name)

    def exists(self, name: str) -> bool:
        return (self._folder(name) / RECORD).is_file()

    def names(self) -> list[str]:
        return [p.name for p in self.root.iterdir() if (p / RECORD).is_file()]

    def create(self, name: str, *, dimension: int, record: dict[str, Any]) -> None:
        folder = self._folder(name)
        shutil.rmtree(folder, ignore_errors=True)  # left by a create that died half-way
        config = EdgeConfig(
            vectors=EdgeVectorParams(size=dimension, distance=Distance.Cosine),
            # Every segment is indexed when a build runs; IndexBuilds decides when that is.
            optimizers=EdgeOptimizersConfig(indexing_threshold=1),
        )
        shard = self._shards[name] = EdgeShard.create(str(folder / SHARD), config)
        shard.update(UpdateOperation.create_field_index("doc_id", PayloadSchemaType.Keyword))
        shard.flush()
        self.set_record(name, record)

    def record(self, name: str) -> dict[str, Any]:
        return json.loads((self._folder(name) / RECORD).read_text())  # type: ignore[no-any-return]

    def set_record(self, name: str, record: dict[str, Any]) -> None:
        temporary = self._folder(name) / f"{RECORD}.tmp"
        temporary.write_text(json.dumps(record))
        temporary.replace(self._folder(name) / RECORD)  # atomic: old record or new, never half

    def describe(self, name: str) -> tuple[str | None, int]:
        record = self.record(name)
        return record["model"], int(record["dimension"])

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
        request = ScrollRequest(
            offset=offset, limit=limit, with_payload=payload, with_vector=with_vector
        )
        records, following = self._shard(name).scroll(request)
        points = [
            Point(str(r.id), list(r.vector) if with_vector else [], r.payload or {})  # type: ignore[arg-type]
            for r in records
        ]
        return points, None if following is None else str(following)

    def count(self, name: str, doc_id: str | None = None) -> int:
        selected = _doc_filter(doc_id) if doc_id is not None else None
        return self._shard(name).count(CountRequest(exact=True, filter=selected))

    def retrieve(self, name: str, ids: Sequence[str], fields: Sequence[str]) -> list[Found]:
        found = self._shard(name).retrieve(list(ids), with_payload=list(fields), with_vector=False)
        return [Found(payload=r.payload or {}) for r in found]

    def document_points(self, name: str, doc_id: str, *, with_vector: bool) -> list[Found]:
        request = ScrollRequest(
            limit=MAX_DOCUMENT_POINTS,
            filter=_doc_filter(doc_id),
            with_payload=True,
            with_vector=with_vector,
        )
        records, _ = self._shard(name).scroll(request)
        return [
            Found(payload=r.payload or {}, vector=list(r.vector) if with_vector else None)  # type: ignore[arg-type]
            for r in records
        ]

    def upsert(self, name: str, points: Sequence[Point], *, version: int | None = None) -> int:
        older = None if version is None else Filter(must_not=[_at_least("version", version)])
        for start in range(0, len(points), UPSERT_BATCH):
            batch = [
                EdgePoint(p.id, p.vector, p.payload) for p in points[start : start + UPSERT_BATCH]
            ]
            self._update(name, UpdateOperation.upsert_points(batch, condition=older))
        self._flushed(name)
        return len(points)

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            self._update(name, UpdateOperation.delete_points(list(ids)))
            self._flushed(name)

    def delete_older(self, name: str, versions: Mapping[str, int]) -> None:
        pairs = list(versions.items())
        for start in range(0, len(pairs), UPSERT_BATCH):
            older = [
                _older(doc_id, version) for doc_id, version in pairs[start : start + UPSERT_BATCH]
            ]
            self._update(name, UpdateOperation.delete_points_by_filter(Filter(should=older)))
        if pairs:
            self._flushed(name)

    def set_version(self, name: str, doc_ids: Sequence[str], version: int) -> None:
        if doc_ids:
            older = Filter(
                must=[_match("doc_id", list(doc_ids))],
                must_not=[_at_least("version", version)],
            )
            self._update(name, UpdateOperation.set_payload_by_filter(older, {"version": version}))
            self._flushed(name)

    def drop(self, name: str) -> None:
        self._builds.cancel(name)
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        folder = self._folder(name)
        (folder / RECORD).unlink(missing_ok=True)  # first: from here on it does not exist
        shutil.rmtree(folder, ignore_errors=True)

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
        shard = self._shard(name)
        self._index_fields(name, shard, where)
        request = QueryRequest(
            limit=top_k,
            query=EdgeQuery.Nearest(list(vector)),
            filter=filtering.build(where, KIT),
            score_threshold=score_threshold,
            with_payload=True,
            params=SearchParams(hnsw_ef=hnsw_ef, exact=exact),
        )
        return [Found(payload=p.payload or {}, score=p.score) for p in shard.query(request)]

    def _index_fields(self, name: str, shard: EdgeShard, where: filters.Filter) -> None:
        """A payload index for each metadata field the first time a search filters on it."""
        indexed = shard.info().payload_schema
        missing = {
            key: kind for key, kind in filtering.indexed_fields(where).items() if key not in indexed
        }
        for key, kind in missing.items():
            self._update(name, UpdateOperation.create_field_index(key, INDEX_KIND[kind]))
        if missing:
            log.info("payload index on %s of collection %r", ", ".join(missing), name)
            shard.flush()

    def close(self) -> None:
        self._builds.cancel_all()
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
