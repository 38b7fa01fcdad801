"""The VectorStore interface: what embedapp needs from a vector engine.

Each engine (Qdrant Edge in-process, a Qdrant server through qdrant-client) supplies a few
primitives; the behaviour built on them (model guard, versions of stored documents, chunk
reassembly, hits) is written once, here, so that both engines behave alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from embedapp.errors import ConflictError, NotFoundError
from embedapp.filters import ANYTHING, Filter
from embedapp.schemas import CollectionInfo, SearchHit, StoredChunk, StoredDocument
from embedapp.store.identity import collection_record, point_id
from embedapp.store.points import Found, Held, Point, reassemble

# Points per engine call: bounds the memory of one write, not its durability.
UPSERT_BATCH = 256
# A document has at most this many chunks read back at once.
MAX_DOCUMENT_POINTS = 10_000
# A collection's deleted documents (doc_id → the delete's version) live in a collection of
# this suffix beside it: a character no collection name may hold, so it never shows.
TOMBSTONES = "~deleted"


class VectorStore(ABC):
    """Collections of points with a doc_id, text, metadata, content hash and model."""

    # Held around each read-change-write of the catalog of versions (store.versions): nothing
    # where one store child owns the store; a lock every child shares where several may write.
    catalog_guard: Callable[[], AbstractContextManager[Any]] = nullcontext

    # -- what each engine supplies --------------------------------------------------------
    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether the collection exists."""

    @abstractmethod
    def names(self) -> list[str]:
        """Every collection's name."""

    @abstractmethod
    def create(self, name: str, *, dimension: int, record: dict[str, Any]) -> None:
        """A new cosine collection, indexed by doc_id, keeping `record` (collection_record)."""

    @abstractmethod
    def describe(self, name: str) -> tuple[str | None, int]:
        """The collection's model and dimension."""

    @abstractmethod
    def record(self, name: str) -> dict[str, Any]:
        """What the collection records of itself (collection_record, and later changes)."""

    @abstractmethod
    def set_record(self, name: str, record: dict[str, Any]) -> None:
        """Replace the collection's record, atomically."""

    @abstractmethod
    def scroll_page(
        self,
        name: str,
        offset: str | None,
        limit: int,
        *,
        with_vector: bool = True,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[Point], str | None]:
        """Up to `limit` points from `offset` (None: the first), with their payloads (only
        these `fields`, where given) and vectors, and the offset of the next page (None: that
        was the last)."""

    @abstractmethod
    def count(self, name: str, doc_id: str | None = None) -> int:
        """Points in the collection (of one document)."""

    @abstractmethod
    def retrieve(self, name: str, ids: Sequence[str], fields: Sequence[str]) -> list[Found]:
        """These fields of the points that exist among these ids."""

    @abstractmethod
    def document_points(self, name: str, doc_id: str, *, with_vector: bool) -> list[Found]:
        """Every point of one document."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[Point], *, version: int | None = None) -> int:
        """Write points; they are on disk when this returns. With `version`, a point already
        stored under a version as new or newer is left as it is (in one step, so that two
        store children writing one document cannot let the older write win)."""

    @abstractmethod
    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        """Remove points by id (left-over chunks of a document that changed)."""

    @abstractmethod
    def delete_older(self, name: str, versions: Mapping[str, int]) -> None:
        """Remove the points of these documents (doc_id → version) written by an earlier
        version (or before versions): whatever is left of what a newer write replaced."""

    @abstractmethod
    def set_version(self, name: str, doc_ids: Sequence[str], version: int) -> None:
        """Stamp these documents' points with a newer version (a write that found them
        unchanged), leaving any point of a version newer still as it is."""

    @abstractmethod
    def drop(self, name: str) -> None:
        """Remove the collection and its files."""

    @abstractmethod
    def nearest(
        self,
        name: str,
        vector: Sequence[float],
        *,
        top_k: int,
        where: Filter,
        score_threshold: float | None,
        hnsw_ef: int | None,
        exact: bool,
    ) -> list[Found]:
        """The top_k nearest points that the filter keeps, none below the score threshold;
        `hnsw_ef` candidates from the index (None: the engine's default), or every point."""

    @abstractmethod
    def close(self) -> None:
        """Release files and connections."""

    # -- embedapp's behaviour, the same on every engine -----------------------------------
    def scroll_all(self, name: str, *, batch: int = UPSERT_BATCH) -> Iterator[list[Point]]:
        """Every point with its vector and payload, a batch at a time (for copies)."""
        offset: str | None = None
        while True:
            points, offset = self.scroll_page(name, offset, batch)
            yield points
            if offset is None:
                return

    def id_scheme(self, name: str) -> int:
        """How the collection's point ids were derived (ID_SCHEME for new collections)."""
        return int(self.record(name).get("id_scheme", 1))

    def set_id_scheme(self, name: str, scheme: int) -> None:
        """Record that every point of the collection has ids of this scheme."""
        self.set_record(name, {**self.record(name), "id_scheme": scheme})

    def check_model(
        self, name: str, *, model: str, dimension: int | None = None, fingerprint: str = ""
    ) -> bool:
        """Whether the collection exists; ConflictError if it holds another model's vectors,
        or vectors of other files under the same model name (`fingerprint`: of the files
        that made the vectors at hand; empty: not known, not checked)."""
        if not self.exists(name):
            return False
        held_model, held_dimension = self.describe(name)
        if held_model != model or (dimension is not None and held_dimension != dimension):
            raise ConflictError(
                f"collection {name!r} holds {held_dimension}-d vectors of model {held_model!r}, "
                f"not of {model!r}: search and ingest it with its own model, or migrate it"
            )
        held_files = self.record(name).get("fingerprint") if fingerprint else None
        if held_files and held_files != fingerprint:
            raise ConflictError(
                f"collection {name!r} holds vectors of {model!r} made from other model files "
                f"(fingerprint {held_files}; the workers' files: {fingerprint}): the model "
                "changed under the same name. Serve the new files under a name of their own "
                "and migrate the collection to it."
            )
        return True

    def ensure_collection(
        self, name: str, *, dimension: int, model: str, fingerprint: str = ""
    ) -> None:
        """Create the collection on first use; refuse vectors from another model."""
        if not self.check_model(name, model=model, dimension=dimension, fingerprint=fingerprint):
            record = collection_record(model, dimension, fingerprint)
            self.create(name, dimension=dimension, record=record)
        elif fingerprint and not self.record(name).get("fingerprint"):
            # Made before fingerprints were recorded: from now on, these files only.
            self.set_record(name, {**self.record(name), "fingerprint": fingerprint})

    def stored_versions(self, name: str, doc_ids: Sequence[str]) -> dict[str, Held]:
        """What is held of each document that was ever stored or deleted: the newer of its
        point (or chunk 0) and its tombstone."""
        held: dict[str, Held] = {}
        if self.exists(name):
            ids = [pid for d in doc_ids for pid in (point_id(name, d), point_id(name, d, 0))]
            for f in self.retrieve(name, ids, ["doc_id", "content_hash", "version"]):
                doc_id, version = f.payload["doc_id"], int(f.payload.get("version", 0))
                if version >= held.get(doc_id, Held(None, -1)).version:  # chunked or not
                    held[doc_id] = Held(f.payload["content_hash"], version)
        graves = name + TOMBSTONES
        if self.exists(graves):
            ids = [point_id(graves, d) for d in doc_ids]
            for f in self.retrieve(graves, ids, ["doc_id", "version"]):
                doc_id, version = f.payload["doc_id"], int(f.payload.get("version", 0))
                if version > held.get(doc_id, Held(None, -1)).version:
                    held[doc_id] = Held(None, version)
        return held

    def info(self, name: str) -> CollectionInfo:
        """Size, dimension and model of a collection."""
        if not self.exists(name):
            raise NotFoundError(f"no collection {name!r}")
        model, dimension = self.describe(name)
        return CollectionInfo(name=name, points=self.count(name), dimension=dimension, model=model)

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection, by name."""
        return [self.info(name) for name in sorted(self.names()) if TOMBSTONES not in name]

    def get_document(self, name: str, doc_id: str, *, with_vector: bool = False) -> StoredDocument:
        """One stored document, its chunks reassembled; NotFoundError if absent."""
        points = (
            self.document_points(name, doc_id, with_vector=with_vector) if self.exists(name) else []
        )
        if not points:
            raise NotFoundError(f"no document {doc_id!r} in collection {name!r}")
        points.sort(key=lambda p: p.payload.get("chunk", {}).get("index", 0))
        first = points[0].payload
        common = {
            "id": doc_id,
            "metadata": first["metadata"],
            "model": first["model"],
            "precision": first.get("precision"),
            "model_fingerprint": first.get("model_fingerprint") or None,
            "normalized": first.get("normalized"),
            "content_hash": first["content_hash"],
        }
        if "chunk" not in first:
            return StoredDocument(text=first["text"], vector=points[0].vector, **common)
        chunks = [StoredChunk(text=p.payload["text"], **p.payload["chunk"]) for p in points]
        return StoredDocument(text=reassemble(chunks), chunks=chunks, **common)

    def delete_document(self, name: str, doc_id: str, version: int) -> int:
        """Remove a document and all its chunks, unless a newer write stored it; how many
        points went. Its tombstone stops a write accepted earlier, and still on its way,
        from storing it again: a document not stored yet gets one too, even in a collection
        that its first ingest, still queued, has not made yet."""
        held = self.stored_versions(name, [doc_id]).get(doc_id)
        if held is not None and held.version > version:
            return 0  # a write accepted after this delete is what the store holds
        count = self.count(name, doc_id) if self.exists(name) else 0
        graves = name + TOMBSTONES
        if not self.exists(graves):
            self.create(graves, dimension=1, record=collection_record(TOMBSTONES, 1))
        tombstone = {"doc_id": doc_id, "version": version}
        self.upsert(graves, [Point(point_id(graves, doc_id), [1.0], tombstone)])
        if count:
            self.delete_older(name, {doc_id: version + 1})  # this version's own points too
        return count

    def delete_collection(self, name: str) -> int:
        """Remove a collection and its tombstones; how many points it held."""
        points = self.info(name).points
        if self.exists(name + TOMBSTONES):
            self.drop(name + TOMBSTONES)
        self.drop(name)
        return points

    def search(
        self,
        name: str,
        vector: Sequence[float],
        *,
        top_k: int,
        where: Filter = ANYTHING,
        score_threshold: float | None = None,
        with_text: bool,
        hnsw_ef: int | None = None,
        exact: bool = False,
    ) -> list[SearchHit]:
        """The nearest documents' points, best first."""
        if not self.exists(name):
            raise NotFoundError(f"no collection {name!r}")
        nearest = self.nearest(
            name, vector, top_k=top_k, where=where, score_threshold=score_threshold,
            hnsw_ef=hnsw_ef, exact=exact,
        )  # fmt: skip
        return [
            SearchHit(
                id=p["doc_id"],
                score=found.score,
                text=p["text"] if with_text else None,
                metadata=p.get("metadata", {}),
                chunk=p.get("chunk"),
            )
            for found in nearest
            for p in [found.payload]
        ]
