"""Versions of a collection: what a collection's name stands for in the store.

A collection's name (`c`) stands for one stored collection, itself, until it is migrated to
another model: the new version is stored as `c~v2` (`~` is never part of a name a client can
give), and a catalog says which version `c` serves and which others are live. Every write to
`c` reaches every live version; searches and reads go to the served one. Switching and
rolling back are one write of the catalog, so no request sees a half-filled version.

The catalog is the record of one small collection (`~catalog`), written atomically by every
engine (Edge: a file replaced; a Qdrant server: the collection's metadata). A Qdrant alias
cannot take the name of a collection that exists, and Qdrant cannot rename one: aliases would
leave collections made before their first migration unmovable.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from embedapp.store.base import VectorStore
from embedapp.store.identity import collection_record

CATALOG = "~catalog"
VERSION_MARK = "~v"
# A change of the catalog is a read and a write: a holder that died frees the lock after this.
GUARD_S = 10.0

Change = Callable[[dict[str, Any] | None], dict[str, Any] | None]


def is_version_name(physical: str) -> bool:
    """Whether a stored collection is internal (a version, tombstones, the catalog)."""
    return "~" in physical


def entry(store: VectorStore, name: str) -> dict[str, Any] | None:
    """The catalog's entry for a collection (None: it serves itself, unmigrated)."""
    if not store.exists(CATALOG):
        return None
    found: dict[str, Any] | None = store.record(CATALOG).get("collections", {}).get(name)
    return found


def update(store: VectorStore, name: str, change: Change) -> None:
    """Change a collection's entry (None: none) as stored now, in one atomic write of the
    catalog, under the store's guard: two store children changing two collections at once
    would each write back the catalog they read, without the other's change. `change` raises
    to write nothing."""
    with store.catalog_guard():
        if not store.exists(CATALOG):
            store.create(CATALOG, dimension=1, record=collection_record(CATALOG, 1))
        record = store.record(CATALOG)
        collections = dict(record.get("collections", {}))
        value = change(collections.get(name))
        if value is None:
            collections.pop(name, None)
        else:
            collections[name] = value
        store.set_record(CATALOG, {**record, "collections": collections})


def set_entry(store: VectorStore, name: str, value: dict[str, Any] | None) -> None:
    """Replace (None: remove) a collection's entry."""
    update(store, name, lambda _: value)


def shared_guard(redis_url: str) -> Callable[[], AbstractContextManager[Any]]:
    """A lock on the catalog that every store child shares, in Redis (redis-py's lock: it
    expires, so a child killed while holding it blocks the others for GUARD_S at most)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    return lambda: client.lock("embedapp:catalog", timeout=GUARD_S, blocking_timeout=GUARD_S)


def names(store: VectorStore) -> list[str]:
    """Every collection a client can name."""
    listed = {n for n in store.names() if not is_version_name(n)}
    if store.exists(CATALOG):
        listed |= set(store.record(CATALOG).get("collections", {}))
    return sorted(listed)


def serving(store: VectorStore, name: str) -> str:
    """The stored collection that `name`'s searches and reads use."""
    found = entry(store, name)
    return str(found["serving"]) if found else name


def live(store: VectorStore, name: str) -> list[str]:
    """Every stored collection a write to `name` reaches, the served one first."""
    found = entry(store, name)
    if not found:
        return [name]
    return [found["serving"], *(v for v in found["versions"] if v != found["serving"])]


def of_model(store: VectorStore, name: str, model: str) -> str | None:
    """The live version of `name` holding this model's vectors (the served one first)."""
    for physical in live(store, name):
        if store.exists(physical) and store.describe(physical)[0] == model:
            return physical
    return None


def add(store: VectorStore, name: str, *, model: str, dimension: int, fingerprint: str) -> str:
    """A new, empty live version of `name` for a model; its stored name."""
    versions = live(store, name)
    number = 2
    while f"{name}{VERSION_MARK}{number}" in versions or store.exists(
        f"{name}{VERSION_MARK}{number}"
    ):
        number += 1
    physical = f"{name}{VERSION_MARK}{number}"
    record = collection_record(model, dimension, fingerprint)
    store.create(physical, dimension=dimension, record=record)

    def added(current: dict[str, Any] | None) -> dict[str, Any]:
        current = current or {"serving": name, "versions": [name]}
        return {**current, "versions": [*current["versions"], physical]}

    update(store, name, added)
    return physical


def retire(store: VectorStore, name: str, physical: str) -> None:
    """Drop a version that is not served: writes stop reaching it."""

    def retired(current: dict[str, Any] | None) -> dict[str, Any]:
        if not current or physical == current["serving"] or physical not in current["versions"]:
            raise ValueError(f"{physical!r} is not a retired version of {name!r}")
        return {**current, "versions": [v for v in current["versions"] if v != physical]}

    update(store, name, retired)
    store.delete_collection(physical)
