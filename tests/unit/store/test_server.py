"""The qdrant-client engine's own promises: local-mode writes synced once per call, and a
server that does not answer raises what the store tasks retry."""

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from embedapp.settings import Settings
from embedapp.store import open_store, point_id
from embedapp.store.server import ServerStore
from tests.unit.store.test_behaviour import _point


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ServerStore]:
    store = open_store(Settings(_env_file=None, data_dir=tmp_path, embedded_store="local"))
    assert isinstance(store, ServerStore)
    store.ensure_collection("c", dimension=3, model="m")
    yield store
    store.close()


def _rows_in_database_file(tmp_path: Path, collection: str) -> int:
    """Points in the collection's SQLite file alone: what a crash right now would keep."""
    files = list(
        Settings(
            _env_file=None, data_dir=tmp_path, embedded_store="local"
        ).embedded_qdrant_path.rglob("*.sqlite")
    )
    (database,) = [f for f in files if f.parent.name == collection]
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(database, copy)  # without the -wal file beside it
    with closing(sqlite3.connect(copy)) as db:
        return int(db.execute("SELECT count(*) FROM points").fetchone()[0])


def test_embedded_writes_are_in_the_database_file_when_they_return(
    store: ServerStore, tmp_path: Path
) -> None:
    # Embedded writes sync once per call (WAL + checkpoint), not once per point.
    store.upsert("c", [_point(str(i), [1, 0, i]) for i in range(300)])
    assert _rows_in_database_file(tmp_path, "c") == 300
    # Reaching qdrant-client's SQLite connection is what makes it fast: if a new version
    # hides it, writes stay durable but slow, and this says so.
    db = store._sqlite("c")
    assert db is not None and db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.delete_points("c", [point_id("c", str(i)) for i in range(100)])
    assert _rows_in_database_file(tmp_path, "c") == 200
    store.delete_document("c", "150", 1)
    assert _rows_in_database_file(tmp_path, "c") == 199


def test_an_unreachable_qdrant_server_raises_what_store_tasks_retry() -> None:
    from embedapp.worker.store import RETRY_ON, upsert

    store = open_store(Settings(_env_file=None, qdrant_url="http://127.0.0.1:1"))
    assert isinstance(store, ServerStore)
    with pytest.raises(RETRY_ON):
        store.client.collection_exists("c")
    assert set(RETRY_ON) <= set(upsert.autoretry_for) and upsert.max_retries == 5
    assert upsert.retry_backoff
