"""A migration's record is changed by several tasks (its steps, a client's switch or rollback),
which run in several store children where the store is a Qdrant server."""

import pytest

from embedapp.errors import ConflictError
from embedapp.store import VectorStore, versions
from embedapp.worker.migration_record import save


def test_a_step_that_read_the_migration_before_a_rollback_cannot_undo_it(
    store: VectorStore,
) -> None:
    target = versions.add(store, "c", model="tiny", dimension=2, fingerprint="f")
    started = {"id": "m1", "state": "copying", "source": "c", "target": target, "cursor": None}
    save(store, "c", started, seen=(None, None))
    step_read = dict(started)  # a step reads the record, then pages through the source ...
    rollback_read = dict(started)
    save(store, "c", rollback_read, serving="c", state="rolled_back")  # ... a client rolls back
    with pytest.raises(ConflictError, match="rolled_back"):
        save(store, "c", step_read, cursor="next page", state="copying")
    assert versions.entry(store, "c")["migration"]["state"] == "rolled_back"  # type: ignore[index]
    assert versions.serving(store, "c") == "c"


def test_a_second_start_over_a_migration_it_did_not_see_is_refused(store: VectorStore) -> None:
    save(store, "c", {"id": "m1", "state": "copying"}, seen=(None, None))
    with pytest.raises(ConflictError):
        save(store, "c", {"id": "m2", "state": "copying"}, seen=(None, None))
    assert versions.entry(store, "c")["migration"]["id"] == "m1"  # type: ignore[index]
