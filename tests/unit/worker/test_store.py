"""The store task's writes: the write accepted last wins, whichever job a worker finishes
last; a delete leaves a tombstone that an older ingest cannot pass; and a changed document's
earlier version is gone even when the child that wrote the new one died before removing it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedapp.messages import Chunk, DocumentIn, EmbeddedJob, PointIn, encode_vector
from embedapp.settings import Settings
from embedapp.store import VectorStore, open_store
from embedapp.store.points import Held
from embedapp.worker import store as store_tasks


class NoHashIndex:
    def remember(self, collection: str, hashes: dict[str, str]) -> None:
        pass

    def forget(self, collection: str, doc_ids: list[str] | None = None) -> None:
        pass


@pytest.fixture(params=["edge", "local"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[VectorStore]:
    monkeypatch.setattr(store_tasks, "get_hash_index", NoHashIndex)
    opened = open_store(Settings(_env_file=None, data_dir=tmp_path, embedded_store=request.param))
    monkeypatch.setattr(store_tasks, "owned_store", lambda: opened)
    yield opened
    opened.close()


def _job(version: int, digest: str, pieces: list[str], *, skipped: bool = False) -> EmbeddedJob:
    points = [
        PointIn(
            doc_id="doc",
            text=piece,
            metadata={},
            content_hash=digest,
            chunk=Chunk(index=i, count=len(pieces), start=0, end=len(piece)),
            vector_b64=encode_vector([1.0, float(i), 0.0]),
        )
        for i, piece in enumerate(pieces)
    ]
    unchanged = [DocumentIn(id="doc", text="".join(pieces), content_hash=digest)]
    return EmbeddedJob(
        job_id=f"j{version}", collection="c", model="m", version=version, dimension=3,
        chunking=None, total=1, embedded=0 if skipped else 1, unchanged=1 if skipped else 0,
        truncated=[], points=[] if skipped else points, skipped=unchanged if skipped else [],
    )  # fmt: skip


def _store_job(job: EmbeddedJob) -> None:
    store_tasks.upsert(job.model_dump())


def _text(store: VectorStore) -> str:
    return "".join(c.text for c in store.get_document("c", "doc").chunks or [])


def test_a_rerun_after_a_crash_between_the_writes_leaves_no_old_chunk(
    store: VectorStore,
) -> None:
    version_1, version_2 = _job(1, "h1", ["a", "b", "c"]), _job(2, "h2", ["x", "y"])
    _store_job(version_1)
    # The child writes version 2's points and dies before removing chunk 2 of version 1.
    store.upsert("c", [store_tasks._point(version_2, p, "c") for p in version_2.points])
    # RabbitMQ redelivers the job; the rerun finds version 2 stored (chunk 0 says so).
    assert store.stored_versions("c", ["doc"]) == {"doc": Held("h2", 2)}
    _store_job(version_2)
    assert store.count("c", "doc") == 2 and _text(store) == "xy"


def test_a_job_accepted_earlier_and_stored_later_does_not_replace_the_newer(
    store: VectorStore,
) -> None:
    _store_job(_job(20, "new", ["n", "e", "w"]))
    _store_job(_job(10, "old", ["o", "l"]))  # accepted first, finished last
    assert _text(store) == "new" and store.count("c", "doc") == 3
    assert store.stored_versions("c", ["doc"]) == {"doc": Held("new", 20)}


def test_a_delete_leaves_a_tombstone_that_only_a_later_ingest_passes(store: VectorStore) -> None:
    _store_job(_job(1, "h1", ["a", "b"]))
    assert store.delete_document("c", "doc", 5) == 2
    _store_job(_job(3, "h3", ["c"]))  # accepted before the delete: stays deleted
    assert store.count("c", "doc") == 0
    assert store.stored_versions("c", ["doc"]) == {"doc": Held(None, 5)}
    assert [c.name for c in store.list_collections()] == ["c"]  # tombstones never show
    _store_job(_job(7, "h7", ["z"]))  # accepted after it
    assert _text(store) == "z"


def test_a_delete_older_than_the_stored_write_removes_nothing(store: VectorStore) -> None:
    _store_job(_job(9, "h9", ["a", "b"]))
    assert store.delete_document("c", "doc", 4) == 0
    assert _text(store) == "ab"


def test_a_delete_of_a_document_still_on_its_way_holds(store: VectorStore) -> None:
    # Even in a collection that the queued ingest (accepted before the delete) would create.
    assert store.delete_document("c", "doc", 5) == 0
    _store_job(_job(2, "h2", ["a"]))
    assert store.stored_versions("c", ["doc"]) == {"doc": Held(None, 5)}
    assert store.list_collections() == []  # nothing was stored in it


def test_an_unchanged_document_sent_again_takes_the_newer_version(store: VectorStore) -> None:
    # Stored as A; then B (changed) and A again are accepted, and the embed task skips the
    # second A as unchanged before B is stored. A was accepted last, so A must stay.
    _store_job(_job(1, "hA", ["a"]))
    _store_job(_job(3, "hA", ["a"], skipped=True))
    _store_job(_job(2, "hB", ["b"]))
    assert _text(store) == "a"
    assert store.stored_versions("c", ["doc"]) == {"doc": Held("hA", 3)}


def test_two_store_children_writing_one_document_cannot_let_the_older_win(
    store: VectorStore,
) -> None:
    # With a Qdrant server the store queue may have several consumers. The child with the
    # older job read what was held before the newer job was stored, then writes.
    older, newer = _job(2, "old", ["o", "l", "d"]), _job(3, "new", ["n", "w"])
    _store_job(newer)
    store_tasks._write(store, older, older.points, stored=older.collection, previous=set())
    assert _text(store) == "nw" and store.count("c", "doc") == 2


def test_a_store_child_racing_a_delete_leaves_nothing(store: VectorStore) -> None:
    older = _job(2, "old", ["o", "l", "d"])
    store.delete_document("c", "doc", 4)
    store_tasks._write(store, older, older.points, stored=older.collection, previous=set())
    assert store.count("c", "doc") == 0
