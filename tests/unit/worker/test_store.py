"""The store task's write: a changed document's earlier version is gone even when the child
that wrote the new one died before removing the old (the redelivered job runs again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedapp.messages import Chunk, EmbeddedJob, PointIn, encode_vector
from embedapp.settings import Settings
from embedapp.store import open_store
from embedapp.worker import store as store_tasks


class NoHashIndex:
    def remember(self, collection: str, hashes: dict[str, str]) -> None:
        pass


def _job(digest: str, pieces: list[str]) -> EmbeddedJob:
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
    return EmbeddedJob(
        job_id="j", collection="c", model="m", dimension=3, chunking=None, total=1,
        embedded=1, unchanged=0, truncated=[], points=points, skipped=[],
    )  # fmt: skip


@pytest.mark.parametrize("engine", ["edge", "local"])
def test_a_rerun_after_a_crash_between_the_writes_leaves_no_old_chunk(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_tasks, "get_hash_index", NoHashIndex)
    store = open_store(Settings(_env_file=None, data_dir=tmp_path, embedded_store=engine))
    try:
        version_1, version_2 = _job("h1", ["a", "b", "c"]), _job("h2", ["x", "y"])
        store_tasks._write(store, version_1, previous=[])
        # The child writes version 2's points and dies before removing chunk 2 of version 1.
        store.upsert("c", [store_tasks._point("c", "m", p) for p in version_2.points])
        # RabbitMQ redelivers the job; the rerun finds version 2 stored (chunk 0 says h2).
        held = store.stored_versions("c", ["doc"])
        assert held == {"doc": "h2"}
        store_tasks._write(store, version_2, previous=held.keys())
        assert store.count("c", "doc") == 2
        assert [c.text for c in store.get_document("c", "doc").chunks or []] == ["x", "y"]
    finally:
        store.close()
