"""A migration as a client drives it: its status, and switch, rollback and finish by hand
(embedapp.worker.migrations runs it)."""

from __future__ import annotations

import time
from typing import Any

from embedapp import queues
from embedapp.celery_app import celery_app
from embedapp.errors import ConflictError
from embedapp.store import VectorStore, versions
from embedapp.worker.migration_record import ACTIVE, done, migration_record, save, switch_to
from embedapp.worker.store import RETRIES, owned_store


def status(store: VectorStore, migration: dict[str, Any]) -> dict[str, Any]:
    """What a client sees of a migration: its state, progress and estimate."""
    written = min(done(migration["id"]), migration["total"])
    if migration["state"] not in ACTIVE:
        written = migration["total"] if migration["state"] != "failed" else written
    elapsed = time.time() - migration["started"]
    rate = written / elapsed if elapsed > 0 else 0.0
    remaining = migration["total"] - written
    shown = ("id", "collection", "model", "from_model", "state", "total", "overlap",
             "min_overlap", "switch", "failures", "error")  # fmt: skip
    return {
        **{key: migration.get(key) for key in shown},
        "done": written,
        "docs_per_s": round(rate, 2),
        "eta_s": round(remaining / rate, 1) if rate and migration["state"] in ACTIVE else None,
    }


@celery_app.task(name=queues.MIGRATION_STATUS, **RETRIES)
def read(collection: str, migration_id: str) -> dict[str, Any]:
    store = owned_store()
    return status(store, migration_record(store, collection, migration_id))


@celery_app.task(name=queues.MIGRATION_SWITCH, **RETRIES)
def switch(collection: str, migration_id: str) -> dict[str, Any]:
    """Switch by hand a migration that has caught up (`"switch": "manual"`, or an overlap
    below `min_overlap`)."""
    store = owned_store()
    migration = migration_record(store, collection, migration_id)
    if migration["state"] != "ready":
        raise ConflictError(
            f"migration {migration_id} is {migration['state']}: only one that has caught up "
            "(ready) can switch"
        )
    switch_to(store, collection, migration)
    return status(store, migration)


@celery_app.task(name=queues.MIGRATION_ROLLBACK, **RETRIES)
def rollback(collection: str, migration_id: str) -> dict[str, Any]:
    """The collection serves its old version again; the new one stays (and keeps getting
    every write) until deleted. A migration still copying stops."""
    store = owned_store()
    migration = migration_record(store, collection, migration_id)
    if migration["state"] not in (*ACTIVE, "ready", "switched"):
        raise ConflictError(f"migration {migration_id} is {migration['state']}")
    save(store, collection, migration, serving=migration["source"], state="rolled_back",
         rolled_back=time.time())  # fmt: skip
    return status(store, migration)


@celery_app.task(name=queues.MIGRATION_FINISH, **RETRIES)
def finish(collection: str, migration_id: str) -> dict[str, Any]:
    """Delete the version the collection no longer serves (the old one after a switch, the
    new one after a rollback or a failure): writes stop reaching it; no way back."""
    store = owned_store()
    migration = migration_record(store, collection, migration_id)
    if migration["state"] in (*ACTIVE, "ready"):
        raise ConflictError(
            f"migration {migration_id} is {migration['state']}: switch or roll it back first"
        )
    if migration["state"] != "finished":
        kept = versions.serving(store, collection)
        for physical in versions.live(store, collection):
            if physical != kept:
                versions.retire(store, collection, physical)
        save(store, collection, migration, state="finished", finished=time.time())
    return status(store, migration)
