"""Collections written under an older point-id scheme, moved to exact ids once."""

from __future__ import annotations

from embedapp.store.base import VectorStore
from embedapp.store.identity import ID_SCHEME
from embedapp.store.points import under_exact_id


def upgrade_ids(store: VectorStore, name: str) -> int:
    """Move a collection's points to exact ids (ID_SCHEME), once; how many moved. Each point
    is written under its new id before its old one is deleted, so a crash part-way loses
    nothing and running again finishes the move."""
    if store.id_scheme(name) >= ID_SCHEME:
        return 0
    moved = 0
    for points in store.scroll_all(name):
        exact = [under_exact_id(name, p) for p in points]
        stale = [(old, new) for old, new in zip(points, exact, strict=True) if old.id != new.id]
        if stale:
            store.upsert(name, [new for _, new in stale])
            store.delete_points(name, [old.id for old, _ in stale])
            moved += len(stale)
    store.set_id_scheme(name, ID_SCHEME)
    return moved


def upgrade_all_ids(store: VectorStore) -> dict[str, int]:
    """upgrade_ids for every collection; the points moved, of those that moved any."""
    moved = {name: upgrade_ids(store, name) for name in store.names()}
    return {name: count for name, count in moved.items() if count}
