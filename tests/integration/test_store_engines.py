"""Every store behaviour, end to end over HTTP, on both store code paths: Qdrant Edge (the
embedded default, the session's service) and qdrant-client (what runs against a Qdrant
server; here on its local mode, in a second service of its own)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

TEXTS = {
    "cat": "The cat sleeps on the warm windowsill all afternoon.",
    "stock": "Shares fell sharply after the quarterly earnings report.",
    "rain": "Heavy rain is expected across the north tomorrow morning.",
}


@pytest.fixture(params=["edge", "server-path"])
def engine(request: pytest.FixtureRequest) -> Service:
    name = "service" if request.param == "edge" else "server_path_service"
    return request.getfixturevalue(name)


def _done(service: Service, task_id: str) -> str:
    return service.wait_for(task_id, until=lambda s: s["state"] in ("deleted", "failed"))["state"]


def _ingest(service: Service, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    response = service.client.post(f"/v1/collections/{collection}/documents", json=body)
    assert response.status_code == 202, response.text
    status = service.wait_for(response.json()["task_id"])
    assert status["state"] == "stored", status
    return status


def test_ingest_dedup_chunks_search_filters_deletes_and_models(
    engine: Service, collection: str
) -> None:
    documents = [
        {"id": key, "text": text, "metadata": {"topic": key, "n": i}}
        for i, (key, text) in enumerate(TEXTS.items())
    ]
    long_text = " ".join(f"Sentence number {i} about gardens and tomatoes." for i in range(60))
    first = _ingest(engine, collection, {"documents": documents})
    assert (first["embedded"], first["stored"]) == (3, 3)
    again = _ingest(engine, collection, {"documents": documents})  # nothing new: nothing embedded
    assert (again["embedded"], again["unchanged"]) == (0, 3)
    _ingest(
        engine,
        collection,
        {"documents": [{"id": "long", "text": long_text}], "chunking": {"size": 64, "overlap": 8}},
    )

    client = engine.client
    stored = client.get(f"/v1/collections/{collection}/documents/long").json()
    assert stored["text"] == long_text and len(stored["chunks"]) > 1
    points = client.get(f"/v1/collections/{collection}").json()["points"]
    assert points == 3 + len(stored["chunks"])

    def search(**body: Any) -> list[dict[str, Any]]:
        response = client.post(f"/v1/collections/{collection}/search", json=body)
        assert response.status_code == 200, response.text
        return response.json()["hits"]

    hits = search(query="a kitten napping in the sun", top_k=2)
    assert hits[0]["id"] == "cat" and hits[0]["score"] > hits[1]["score"]
    assert [h["id"] for h in search(query="kitten", filter={"topic": "stock"})] == ["stock"]
    assert {h["id"] for h in search(query="kitten", filter={"n": [1, 2]})} == {"stock", "rain"}
    # Qdrant's form: ranges, negation, "field exists"; and a score threshold.
    ranged = {"must": [{"key": "n", "range": {"gte": 1}}],
              "must_not": [{"key": "topic", "match": {"value": "rain"}}]}  # fmt: skip
    assert [h["id"] for h in search(query="kitten", filter=ranged)] == ["stock"]
    exists = {"must_not": [{"is_empty": {"key": "topic"}}]}
    assert {h["id"] for h in search(query="kitten", filter=exists)} == set(TEXTS)
    close = search(query="a kitten napping in the sun", score_threshold=hits[1]["score"] + 1e-4)
    assert [h["id"] for h in close] == ["cat"]
    refused = client.post(
        f"/v1/collections/{collection}/search",
        json={"query": "kitten", "filter": {"topic": {"$ne": "rain"}}},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith(
        "filter: field 'topic': the shorthand takes a value or a list of values"
    )

    deleted = client.delete(f"/v1/collections/{collection}/documents/long")
    assert deleted.status_code == 202
    assert _done(engine, deleted.json()["task_id"]) == "deleted"
    assert client.get(f"/v1/collections/{collection}/documents/long").status_code == 404
    assert client.get(f"/v1/collections/{collection}").json()["points"] == 3

    dropped = client.delete(f"/v1/collections/{collection}")
    assert _done(engine, dropped.json()["task_id"]) == "deleted"
    assert client.get(f"/v1/collections/{collection}").status_code == 404
