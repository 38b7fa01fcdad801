"""Qdrant Edge's own promises: half-made collections do not exist, filtered fields get payload
indexes, and HNSW indexes are built in another process and swapped in without losing a write."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedapp.filters import parse
from embedapp.store import Point, point_id
from embedapp.store.edge import RECORD, SHARD, EdgeStore
from embedapp.store.indexer import BUILDING, OLD, IndexBuilds
from tests.unit.store.test_behaviour import _point


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeStore]:
    store = EdgeStore(tmp_path, index_after_points=50)
    store.ensure_collection("c", dimension=DIMENSION, model="m")
    yield store
    store.close()


# Edge indexes segments of at least 1 KB: enough dimensions that 50 points make one.
DIMENSION = 8


def _points(n: int, start: int = 0) -> list[Point]:
    return [_point(str(i), [1.0, 0.5, i / 100, *[0.0] * 5]) for i in range(start, start + n)]


def test_a_collection_whose_create_died_half_way_does_not_exist(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path, index_after_points=0)
    store.ensure_collection("c", dimension=3, model="m")
    (tmp_path / "c" / RECORD).unlink()  # as if the process died before the record
    store.close()
    again = EdgeStore(tmp_path, index_after_points=0)
    assert not again.exists("c") and again.names() == []
    again.ensure_collection("c", dimension=3, model="m")
    assert again.info("c").points == 0
    again.close()


def test_a_filtered_field_gets_a_payload_index_of_its_kind(store: EdgeStore) -> None:
    store.upsert("c", [_point("a", [1, *[0] * 7], lang="en", n=1)])
    store.search(
        "c", [1, *[0] * 7], top_k=1, where=parse({"lang": "en", "n": [1, 2]}), with_text=False
    )
    schema = store._shard("c").info().payload_schema
    assert {"doc_id", "metadata.lang", "metadata.n"} <= set(schema)


def _wait_for_build(store: EdgeStore) -> None:
    deadline = time.monotonic() + 60
    while not store._builds.ready("c"):
        assert store._builds._running, "no index build is running"
        assert time.monotonic() < deadline, "the index build did not finish"
        time.sleep(0.05)


def test_an_index_is_built_aside_and_swapped_in_with_the_writes_made_meanwhile(
    store: EdgeStore, tmp_path: Path
) -> None:
    store.upsert("c", _points(60))  # past index_after_points: a build starts
    assert (tmp_path / "c" / (SHARD + BUILDING)).is_dir()
    assert store._shard("c").info().indexed_vectors_count == 0
    # Written while the copy is indexed: must survive the swap.
    store.upsert("c", _points(5, start=60))
    store.delete_points("c", [point_id("c", "0")])
    _wait_for_build(store)

    assert store.info("c").points == 64  # the first call after the build swaps it in
    info = store._shard("c").info()
    assert info.indexed_vectors_count >= 59  # the copy's points, now in an HNSW index
    assert store.get_document("c", "64").text == "t" and store.count("c", "0") == 0
    assert not (tmp_path / "c" / (SHARD + BUILDING)).exists()
    hits = store.search("c", [1.0, 0.5, 0.3, *[0.0] * 5], top_k=1, with_text=False)
    assert hits[0].id == "30"


def test_a_build_is_not_restarted_until_as_many_new_points_came(store: EdgeStore) -> None:
    store.upsert("c", _points(60))
    _wait_for_build(store)
    store.upsert("c", _points(10, start=100))  # swaps, then 10 new points: too few
    assert not store._builds._running


@pytest.mark.parametrize("left", ["building", "old"])
def test_a_crash_during_a_build_or_a_swap_leaves_one_whole_shard(tmp_path: Path, left: str) -> None:
    store = EdgeStore(tmp_path, index_after_points=0)
    store.ensure_collection("c", dimension=DIMENSION, model="m")
    store.upsert("c", _points(20))
    store.close()
    shard = tmp_path / "c" / SHARD
    if left == "building":  # died while the copy was being indexed
        (tmp_path / "c" / (SHARD + BUILDING)).mkdir()
    else:  # died between moving the shard aside and moving the copy in
        shard.rename(tmp_path / "c" / (SHARD + OLD))
    IndexBuilds.recover(shard)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [RECORD, SHARD]
    again = EdgeStore(tmp_path, index_after_points=0)
    assert again.info("c").points == 20
    again.close()
