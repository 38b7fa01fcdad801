"""Exact document identity on both engines: no document id can take another document's or
chunk's point, and collections written under the older id scheme move to exact ids once,
crash-safe, with nothing re-embedded."""

from __future__ import annotations

import uuid

import pytest

from embedapp.store import Point, VectorStore, point_id
from embedapp.store.identity import ID_SCHEME, POINT_NAMESPACE
from embedapp.store.points import Held
from embedapp.store.upgrade import upgrade_all_ids, upgrade_ids
from tests.unit.store.test_behaviour import _chunked, _point


def _scheme_1_id(collection: str, doc_id: str, chunk: int | None) -> str:
    """How embedapp derived point ids before (for data written then)."""
    key = f"{collection}/{doc_id}" if chunk is None else f"{collection}/{doc_id}#{chunk}"
    return str(uuid.uuid5(POINT_NAMESPACE, key))


def test_ids_that_once_collided_are_apart() -> None:
    assert point_id("c", "x#0") != point_id("c", "x", 0)
    assert point_id("c/x", "y") != point_id("c", "x/y")
    assert point_id("c", "x", 0) == point_id("c", "x", 0)  # still deterministic


def test_a_document_named_like_a_chunk_leaves_the_chunks_alone(store: VectorStore) -> None:
    store.upsert("c", _chunked("x", ["first part", "second part"]))
    store.upsert("c", [_point("x#0", [0, 1, 0], text="a document of its own")])
    assert store.get_document("c", "x").text.startswith("first part"[:8])
    assert len(store.get_document("c", "x").chunks or []) == 2
    assert store.get_document("c", "x#0").text == "a document of its own"
    assert store.count("c") == 3


def _write_scheme_1(store: VectorStore, points: list[Point]) -> None:
    old = [
        Point(
            _scheme_1_id("c", p.payload["doc_id"], (p.payload.get("chunk") or {}).get("index")),
            p.vector,
            p.payload,
        )
        for p in points
    ]
    store.upsert("c", old)
    store.set_id_scheme("c", 1)


def test_an_older_collection_moves_to_exact_ids_once(store: VectorStore) -> None:
    points = [_point(f"d{i}", [1, i, 0], text=f"t{i}") for i in range(300)] + _chunked(
        "long", ["one piece", "two piece", "three piece"]
    )
    _write_scheme_1(store, points)
    assert store.stored_versions("c", ["d1"]) == {}  # unreadable by exact ids until moved

    store.ensure_collection("new", dimension=3, model="m")  # made exact: nothing to move
    assert upgrade_all_ids(store) == {"c": 303}
    assert store.id_scheme("c") == ID_SCHEME and store.count("c") == 303
    assert store.stored_versions("c", ["d1"]) == {"d1": Held("h-t1", 0)}
    assert len(store.get_document("c", "long").chunks or []) == 3
    store.upsert("c", [_point("d1", [1, 1, 0], text="t1")])  # re-sent: overwrites, no twin
    assert store.count("c") == 303
    assert upgrade_ids(store, "c") == 0  # once


def test_a_move_that_dies_part_way_finishes_on_the_next_start(store: VectorStore) -> None:
    _write_scheme_1(store, [_point(f"d{i}", [1, i, 0], text=f"t{i}") for i in range(600)])
    deletes = store.delete_points
    calls = 0

    def dies_on_the_second(name: str, ids: list[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("store child killed")
        deletes(name, ids)

    store.delete_points = dies_on_the_second  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        upgrade_ids(store, "c")
    store.delete_points = deletes  # type: ignore[method-assign]
    assert store.id_scheme("c") == 1  # not recorded as done
    upgrade_ids(store, "c")
    assert store.count("c") == 600 and store.id_scheme("c") == ID_SCHEME
    ids = {p.id for batch in store.scroll_all("c") for p in batch}
    assert ids == {point_id("c", f"d{i}") for i in range(600)}
