from pathlib import Path

import pytest

from embedapp.errors import ConflictError
from embedapp.settings import Settings
from embedapp.store import VectorStore, open_client, point_id


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    return VectorStore(open_client(Settings(_env_file=None, data_dir=tmp_path)))


def _payload(doc_id: str, text: str = "t") -> dict:
    return {
        "doc_id": doc_id,
        "text": text,
        "metadata": {"k": doc_id},
        "content_hash": "h",
        "model": "m",
    }


def test_point_ids_are_deterministic_per_collection_and_document() -> None:
    assert point_id("c", "a") == point_id("c", "a")
    assert point_id("c", "a") != point_id("c", "b")
    assert point_id("c", "a") != point_id("d", "a")


def test_upserting_the_same_documents_twice_keeps_one_point_each(store: VectorStore) -> None:
    store.ensure_collection("c", dimension=3, model="m")
    for _ in range(2):
        store.upsert("c", vectors=[[1, 0, 0], [0, 1, 0]], payloads=[_payload("a"), _payload("b")])
    info = store.info("c")
    assert (info.points, info.dimension, info.model) == (2, 3, "m")


def test_a_document_reads_back_with_payload_and_vector(store: VectorStore) -> None:
    store.ensure_collection("c", dimension=3, model="m")
    store.upsert("c", vectors=[[0.6, 0.8, 0]], payloads=[_payload("a", "hello")])
    found = store.get_document("c", "a", with_vector=True)
    assert found is not None
    assert (found.id, found.text, found.metadata) == ("a", "hello", {"k": "a"})
    assert found.vector == pytest.approx([0.6, 0.8, 0.0])
    assert store.get_document("c", "missing") is None
    assert store.get_document("no-such-collection", "a") is None


def test_a_collection_refuses_another_model(store: VectorStore) -> None:
    store.ensure_collection("c", dimension=3, model="m")
    store.ensure_collection("c", dimension=3, model="m")
    with pytest.raises(ConflictError, match="'m'.*'other'"):
        store.ensure_collection("c", dimension=3, model="other")
    with pytest.raises(ConflictError, match="3-d"):
        store.ensure_collection("c", dimension=4, model="m")
