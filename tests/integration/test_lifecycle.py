"""Dedup on re-ingest, long texts (truncated or chunked), listing and deleting."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

LONG = " ".join(f"sentence {i} says something about topic {i % 7}." for i in range(120))


def test_reingest_embeds_only_what_changed(service: Service, collection: str) -> None:
    docs = [{"id": f"d{i}", "text": f"text number {i}"} for i in range(10)]
    first = service.wait_for(service.ingest(collection, docs)["task_id"])
    assert (first["embedded"], first["unchanged"], first["stored"]) == (10, 0, 10)

    again = service.wait_for(service.ingest(collection, docs)["task_id"])
    assert again["state"] == "stored"
    assert (again["embedded"], again["unchanged"], again["stored"]) == (0, 10, 0)

    docs[3]["text"] = "a changed text"
    docs.append({"id": "d10", "text": "a new one"})
    third = service.wait_for(service.ingest(collection, docs)["task_id"])
    assert (third["embedded"], third["unchanged"], third["stored"]) == (2, 9, 2)
    stored = service.client.get(f"/v1/collections/{collection}/documents/d3").json()
    assert stored["text"] == "a changed text"
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 11


def test_a_long_text_is_truncated_by_default_and_reported(
    service: Service, collection: str
) -> None:
    accepted = service.ingest(
        collection, [{"id": "long", "text": LONG}, {"id": "short", "text": "short"}]
    )
    status = service.wait_for(accepted["task_id"])
    assert status["truncated"] == ["long"]
    stored = service.client.get(f"/v1/collections/{collection}/documents/long").json()
    assert stored["text"] == LONG and "chunks" not in stored


def test_chunked_ingest_stores_chunks_that_search_and_delete_as_one(
    service: Service, collection: str
) -> None:
    chunking = {"size": 64, "overlap": 16}
    response = service.client.post(
        f"/v1/collections/{collection}/documents",
        json={
            "documents": [
                {"id": "book", "text": LONG, "metadata": {"kind": "book"}},
                {"id": "note", "text": "a short note"},
            ],
            "chunking": chunking,
        },
    )
    assert response.status_code == 202
    status = service.wait_for(response.json()["task_id"])
    assert status["state"] == "stored" and status["truncated"] == []

    book = service.client.get(f"/v1/collections/{collection}/documents/book").json()
    chunks = book["chunks"]
    assert len(chunks) > 3 and book["text"] == LONG
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert all(LONG[c["start"] : c["end"]] == c["text"] for c in chunks)
    points = service.client.get(f"/v1/collections/{collection}").json()["points"]
    assert points == len(chunks) + 1

    hits = service.client.post(
        f"/v1/collections/{collection}/search",
        json={"query": "sentence 100 says something", "top_k": 3},
    ).json()["hits"]
    assert hits[0]["id"] == "book" and "sentence 100 " in hits[0]["text"]
    assert {"index", "count", "start", "end"} <= set(hits[0]["chunk"])

    # Re-chunked smaller: the old chunks must not linger.
    response = service.client.post(
        f"/v1/collections/{collection}/documents",
        json={"documents": [{"id": "book", "text": LONG}], "chunking": {"size": 128, "overlap": 0}},
    )
    assert service.wait_for(response.json()["task_id"])["embedded"] == 1
    rechunked = service.client.get(f"/v1/collections/{collection}/documents/book").json()
    points = service.client.get(f"/v1/collections/{collection}").json()["points"]
    assert points == len(rechunked["chunks"]) + 1 < len(chunks) + 1

    deleted = service.client.delete(f"/v1/collections/{collection}/documents/book")
    assert deleted.status_code == 202
    status = service.wait_for(
        deleted.json()["task_id"], until=lambda s: s["state"] in ("deleted", "failed")
    )
    assert status["state"] == "deleted" and status["deleted"] == len(rechunked["chunks"])
    assert service.client.get(f"/v1/collections/{collection}/documents/book").status_code == 404
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 1


def test_chunk_settings_are_checked(service: Service, collection: str) -> None:
    for chunking in ({"size": 64, "overlap": 64}, {"size": 2}):
        response = service.client.post(
            f"/v1/collections/{collection}/documents",
            json={"documents": [{"text": "x"}], "chunking": chunking},
        )
        assert response.status_code == 422, chunking


def test_collections_are_listed_and_deleted(service: Service, collection: str) -> None:
    service.wait_for(service.ingest(collection, [{"id": "a", "text": "alpha"}])["task_id"])
    listed = service.client.get("/v1/collections").json()["collections"]
    mine = [c for c in listed if c["name"] == collection]
    assert mine == [
        {
            "name": collection,
            "points": 1,
            "dimension": 384,
            "model": "sentence-transformers/all-MiniLM-L6-v2",
        }
    ]

    response = service.client.delete(f"/v1/collections/{collection}")
    assert response.status_code == 202
    status = service.wait_for(
        response.json()["task_id"], until=lambda s: s["state"] in ("deleted", "failed")
    )
    assert (status["state"], status["deleted"]) == ("deleted", 1)
    assert service.client.get(f"/v1/collections/{collection}").status_code == 404
    gone = service.client.delete(f"/v1/collections/{collection}")
    status = service.wait_for(
        gone.json()["task_id"], until=lambda s: s["state"] in ("deleted", "failed")
    )
    assert status["state"] == "failed" and collection in status["error"]


def test_a_stale_hash_index_never_loses_a_document(service: Service, collection: str) -> None:
    from embedapp.model.embedder import content_hash
    from embedapp.settings import Settings
    from embedapp.store.hash_index import HashIndex

    docs = [{"id": f"s{i}", "text": f"stale index text {i}"} for i in range(3)]
    # The index claims these are stored, as after the store's files were replaced.
    claimed = {d["id"]: content_hash(d["text"], Settings().model_id, "") for d in docs}
    HashIndex.from_settings(Settings()).remember(collection, claimed)

    status = service.wait_for(service.ingest(collection, docs)["task_id"])
    assert (status["state"], status["embedded"], status["unchanged"]) == ("stored", 3, 0)
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 3
