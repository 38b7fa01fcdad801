"""What embedapp needs of a store, held on both engines: Qdrant Edge (the embedded default)
and qdrant-client, here in local mode, which speaks a Qdrant server's API."""

from pathlib import Path

import pytest

from embedapp.errors import ConflictError, NotFoundError
from embedapp.filters import parse
from embedapp.store import Point, VectorStore, open_store, point_id
from embedapp.store.points import Held
from tests.unit.conftest import ENGINES, settings


def _point(
    doc_id: str, vector: list[float], text: str = "t", chunk: dict | None = None, **metadata: object
) -> Point:
    payload = {
        "doc_id": doc_id,
        "text": text,
        "metadata": metadata,
        "content_hash": f"h-{text}",
        "model": "m",
    }
    if chunk:
        payload["chunk"] = chunk
    return Point(
        id=point_id("c", doc_id, chunk["index"] if chunk else None),
        vector=[float(x) for x in vector],
        payload=payload,
    )


def _chunked(doc_id: str, pieces: list[str]) -> list[Point]:
    spans, start = [], 0
    for piece in pieces:
        spans.append((start, start + len(piece)))
        start += len(piece) - 2  # neighbours overlap by two characters
    return [
        _point(
            doc_id,
            [1, 0, i],
            text=piece,
            chunk={"index": i, "count": len(pieces), "start": s, "end": e},
        )
        for i, (piece, (s, e)) in enumerate(zip(pieces, spans, strict=True))
    ]


def test_point_ids_are_deterministic_per_collection_document_and_chunk() -> None:
    assert point_id("c", "a") == point_id("c", "a")
    assert (
        len(
            {
                point_id("c", "a"),
                point_id("c", "b"),
                point_id("d", "a"),
                point_id("c", "a", 0),
                point_id("c", "a", 1),
            }
        )
        == 5
    )


def test_point_ids_never_change() -> None:
    # Stored points carry these ids: a different id for the same document would duplicate it.
    assert point_id("docs", "a") == "02bd3280-4ae1-5885-b3bd-b3fa5a51f0de"
    assert point_id("docs", "a", 0) == "e22ba1c8-c158-5ecb-930f-ad733a0a927e"
    assert point_id("café", 'x#0"é', 3) == "4db8822c-69a0-5c84-a5b1-054fa20b9002"


def test_upserting_the_same_documents_twice_keeps_one_point_each(store: VectorStore) -> None:
    for _ in range(2):
        store.upsert("c", [_point("a", [1, 0, 0]), _point("b", [0, 1, 0])])
    info = store.info("c")
    assert (info.points, info.dimension, info.model) == (2, 3, "m")


def test_a_document_reads_back_with_payload_and_vector(store: VectorStore) -> None:
    store.upsert("c", [_point("a", [0.6, 0.8, 0], text="hello", k="v")])
    found = store.get_document("c", "a", with_vector=True)
    assert (found.id, found.text, found.metadata, found.chunks) == ("a", "hello", {"k": "v"}, None)
    assert found.vector == pytest.approx([0.6, 0.8, 0.0])
    with pytest.raises(NotFoundError):
        store.get_document("c", "missing")
    with pytest.raises(NotFoundError):
        store.get_document("no-such-collection", "a")


def test_a_chunked_document_reads_back_whole(store: VectorStore) -> None:
    store.upsert("c", _chunked("a", ["abcdef", "efghij", "ijk"]))
    found = store.get_document("c", "a")
    assert found.text == "abcdefghijk"
    assert [c.index for c in found.chunks or []] == [0, 1, 2]


def test_a_page_of_points_can_carry_only_some_fields(store: VectorStore) -> None:
    store.upsert("c", [_point("plain", [1, 0, 0], text="x"), *_chunked("split", ["abc", "bcd"])])
    points, following = store.scroll_page("c", None, 10, with_vector=False, fields=["doc_id"])
    assert following is None
    assert sorted(p.payload["doc_id"] for p in points) == ["plain", "split", "split"]
    assert all(set(p.payload) == {"doc_id"} and p.vector == [] for p in points)
    whole, _ = store.scroll_page("c", None, 10)
    assert all("text" in p.payload and len(p.vector) == 3 for p in whole)


def test_stored_versions_name_each_documents_content_hash(store: VectorStore) -> None:
    store.upsert("c", [_point("plain", [1, 0, 0], text="x"), *_chunked("split", ["abc", "bcd"])])
    versions = store.stored_versions("c", ["plain", "split", "absent"])
    assert versions == {"plain": Held("h-x", 0), "split": Held("h-abc", 0)}


def test_a_replaced_documents_other_versions_go_whatever_their_chunk_count(
    store: VectorStore,
) -> None:
    # Version 1 had three chunks; version 2 has two, written by a store child that then died
    # before removing chunk 2 of version 1. What the rerun does must still remove it.
    store.upsert("c", [*_chunked("doc", ["aaa", "abb", "bcc"]), _point("other", [0, 1, 0])])
    version_2 = [
        Point(p.id, p.vector, {**p.payload, "content_hash": "h-v2", "version": 2})
        for p in _chunked("doc", ["xxx", "xyy"])
    ]
    store.upsert("c", version_2)
    assert store.count("c", "doc") == 3  # the stale chunk 2 of version 1
    store.delete_older("c", {"doc": 2})
    assert store.count("c", "doc") == 2 and store.count("c") == 3
    assert store.get_document("c", "doc").content_hash == "h-v2"
    assert store.stored_versions("c", ["doc"]) == {"doc": Held("h-v2", 2)}


def test_deleting_a_document_removes_all_its_chunks(store: VectorStore) -> None:
    store.upsert("c", [*_chunked("a", ["abc", "bcd", "cde"]), _point("b", [0, 1, 0])])
    assert store.delete_document("c", "a", 5) == 3
    assert store.info("c").points == 1
    assert store.delete_document("c", "a", 6) == 0  # nothing left: done already
    assert store.delete_document("absent", "a", 7) == 0  # its first ingest may be queued


def test_search_ranks_by_cosine_and_filters_on_metadata(store: VectorStore) -> None:
    store.upsert(
        "c",
        [
            _point("x", [1, 0, 0], lang="en", n=1),
            _point("y", [0.9, 0.1, 0], lang="fr", n=2),
            _point("z", [0, 1, 0], lang="en", n=3),
        ],
    )
    hits = store.search("c", [1, 0, 0], top_k=3, with_text=True)
    assert [h.id for h in hits] == ["x", "y", "z"]
    assert hits[0].score == pytest.approx(1.0)
    english = store.search("c", [1, 0, 0], top_k=3, where=parse({"lang": "en"}), with_text=False)
    assert [h.id for h in english] == ["x", "z"] and english[0].text is None
    some = store.search("c", [1, 0, 0], top_k=3, where=parse({"n": [2, 3]}), with_text=True)
    assert [h.id for h in some] == ["y", "z"]


def test_collections_are_listed_and_deleted(store: VectorStore) -> None:
    store.ensure_collection("b", dimension=3, model="m")
    store.upsert("c", [_point("a", [1, 0, 0])])
    assert [(c.name, c.points) for c in store.list_collections()] == [("b", 0), ("c", 1)]
    assert store.delete_collection("c") == 1
    with pytest.raises(NotFoundError):
        store.info("c")


def test_a_collection_refuses_another_model(store: VectorStore) -> None:
    store.ensure_collection("c", dimension=3, model="m")
    with pytest.raises(ConflictError, match="'m'.*'other'"):
        store.ensure_collection("c", dimension=3, model="other")
    with pytest.raises(ConflictError, match="3-d"):
        store.ensure_collection("c", dimension=4, model="m")
    assert store.check_model("absent", model="other") is False


def test_a_collection_refuses_vectors_of_other_files_under_the_same_name(
    store: VectorStore,
) -> None:
    store.ensure_collection("c", dimension=3, model="m", fingerprint="files-1")
    store.ensure_collection("c", dimension=3, model="m", fingerprint="files-1")
    with pytest.raises(ConflictError, match="other model files.*files-1.*files-2"):
        store.ensure_collection("c", dimension=3, model="m", fingerprint="files-2")
    with pytest.raises(ConflictError, match="other model files"):
        store.check_model("c", model="m", fingerprint="files-2")  # a search's query vector
    assert store.check_model("c", model="m") is True  # files not known: not checked
    # A collection made before fingerprints were kept takes the first one it is written with.
    store.ensure_collection("old", dimension=3, model="m")
    store.ensure_collection("old", dimension=3, model="m", fingerprint="files-1")
    assert store.record("old")["fingerprint"] == "files-1"
    with pytest.raises(ConflictError):
        store.ensure_collection("old", dimension=3, model="m", fingerprint="files-2")


@pytest.mark.parametrize("engine", ENGINES)
def test_what_was_written_is_there_after_reopening(tmp_path: Path, engine: str) -> None:
    store = open_store(settings(tmp_path, engine))
    store.ensure_collection("c", dimension=3, model="m")
    store.upsert("c", [_point("a", [1, 0, 0], text="kept"), *_chunked("b", ["abc", "bcd"])])
    store.delete_points("c", [point_id("c", "b", 1)])
    store.close()
    again = open_store(settings(tmp_path, engine))
    assert again.info("c").points == 2
    assert again.get_document("c", "a").text == "kept"
    assert again.stored_versions("c", ["a"]) == {"a": Held("h-kept", 0)}
    again.close()


def test_set_version_stamps_several_documents_and_leaves_newer_ones(store: VectorStore) -> None:
    points = [_point("x", [1, 0, 0]), _point("y", [0, 1, 0]), _point("z", [0, 0, 1])]
    for point, version in zip(points, (5, 5, 9), strict=True):
        point.payload["version"] = version  # as the store worker writes them
        store.upsert("c", [point], version=version)
    store.set_version("c", ["x", "y", "z"], 7)
    held = store.stored_versions("c", ["x", "y", "z"])
    assert {d: h.version for d, h in held.items()} == {"x": 7, "y": 7, "z": 9}
