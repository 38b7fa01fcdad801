"""Moving collections from qdrant-client's local mode (what embedapp stored before Qdrant
Edge) into Edge: vectors and payloads copied as they are, nothing re-embedded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embedapp.store.base import VectorStore
from embedapp.store.points import under_exact_id
from embedapp.store.server import ServerStore

# Points per read from local mode and write into the target.
BATCH = 1024
# Told of each batch: collection, points copied so far, points in the collection.
Progress = Callable[[str, int, int], None]


def has_local_data(folder: Path) -> bool:
    """Whether a folder holds qdrant-client local-mode storage."""
    return (folder / "meta.json").is_file()


def migrate(
    source: Path, target: VectorStore, *, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every collection of the local-mode storage at `source` into `target`; the points
    copied per collection. Safe to run again: point ids derive from the payload, so a copy
    overwrites itself."""
    from qdrant_client import QdrantClient

    old = ServerStore(QdrantClient(path=str(source)), server=False)
    copied: dict[str, int] = {}
    try:
        for name in sorted(old.names()):
            model, dimension = old.describe(name)
            target.ensure_collection(name, dimension=dimension, model=model or "unknown")
            total, done = old.count(name), 0
            for points in old.scroll_all(name, batch=BATCH):
                # Under exact ids (the older store may hold ids of the older scheme).
                done += target.upsert(name, [under_exact_id(name, p) for p in points])
                if progress:
                    progress(name, done, total)
            copied[name] = done
    finally:
        old.close()
    return copied
