"""A migration's record, kept in the catalog of versions (embedapp.store.versions), and the
documents its jobs have written, counted in Redis. Several tasks change the record (the
migration's steps, a client's switch or rollback), in several store children where the
store is a Qdrant server: each writes it only if it is still what that task read."""

from __future__ import annotations

import logging
import time
from typing import Any

from embedapp.celery_app import celery_app
from embedapp.errors import ConflictError, NotFoundError
from embedapp.messages import migration_done_key as done_key
from embedapp.store import VectorStore, versions

log = logging.getLogger(__name__)

ACTIVE = ("copying", "catching_up")


def migration_record(store: VectorStore, collection: str, migration_id: str) -> dict[str, Any]:
    found = (versions.entry(store, collection) or {}).get("migration")
    if not found or found["id"] != migration_id:
        raise NotFoundError(f"no migration {migration_id!r} of collection {collection!r}")
    return dict(found)


def mark(migration: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """What a task compares before it writes: the migration's id and state."""
    return (migration or {}).get("id"), (migration or {}).get("state")


def save(
    store: VectorStore,
    collection: str,
    migration: dict[str, Any],
    *,
    seen: tuple[str | None, str | None] | None = None,
    serving: str | None = None,
    **changes: Any,
) -> None:
    """Write the migration's record with these changes (`serving`: switch the version served),
    unless the stored one is no longer what this task read (`seen`; by default the migration
    as it was read): with several store children, a step must not undo a rollback it did
    not see. ConflictError then, and the other task's change stands."""
    seen = seen or mark(migration)

    def saved(current: dict[str, Any] | None) -> dict[str, Any]:
        stored = (current or {}).get("migration")
        if mark(stored) != seen:
            raise ConflictError(
                f"migration {migration['id']} of {collection!r}: changed by another task "
                f"({mark(stored)[1]!r}, was {seen[1]!r}); this change is not saved"
            )
        migration.update(changes)
        served = {"serving": serving} if serving else {}
        return {**(current or {}), **served, "migration": migration}

    versions.update(store, collection, saved)


def done(migration_id: str) -> int:
    """Documents the migration's jobs have written so far (0 if not known)."""
    try:
        return int(celery_app.backend.client.get(done_key(migration_id)) or 0)
    except Exception as exc:
        log.warning("migration %s: progress not read: %s", migration_id, exc)
        return 0


def switch_to(store: VectorStore, collection: str, migration: dict[str, Any]) -> None:
    """The new version becomes the one the collection serves: one write of the catalog."""
    save(store, collection, migration, serving=migration["target"], state="switched",
         switched=time.time())  # fmt: skip
    log.info("migration %s: %s now serves %s", migration["id"], collection, migration["model"])
