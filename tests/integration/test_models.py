"""Several models side by side: a worker pair per model, each request and collection on its
model's queues, and vectors of two models (or of two sets of files) never compared."""

from __future__ import annotations

import uuid

import numpy as np

from embedapp.messages import decode_vector
from embedapp.model.files import fingerprint
from tests.integration.conftest import Service
from tests.tiny_model import DIMENSION

DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"
DOCUMENTS = [
    {"id": "sea", "text": "The tide came in over the sand and the harbour walls."},
    {"id": "code", "text": "def add(a, b): return a + b"},
    {"id": "bread", "text": "Knead the dough, let it rise overnight, bake at 230 degrees."},
]


def _collection() -> str:
    return f"models-{uuid.uuid4().hex[:10]}"


def test_the_models_are_listed_default_first_with_what_their_workers_loaded(
    two_models_service: Service, tiny_model: object
) -> None:
    cards = two_models_service.client.get("/v1/models").json()["data"]
    assert [(c["id"], c["default"], c["dimension"]) for c in cards] == [
        (DEFAULT, True, 384),
        ("tiny", False, DIMENSION),
    ]
    assert cards[1]["fingerprint"] == fingerprint(str(tiny_model))
    assert cards[0]["fingerprint"] != cards[1]["fingerprint"]
    log = two_models_service.log_text()
    assert "serves embed.bulk.tiny with tiny" in log
    assert "serves embed.interactive.tiny with tiny" in log
    assert f"serves embed.bulk with {DEFAULT}" in log


def test_embeddings_come_from_the_model_the_caller_names(two_models_service: Service) -> None:
    client = two_models_service.client

    def vectors(model: str) -> list[list[float]]:
        body = {"model": model, "input": ["one text", "another text"]}
        response = client.post("/v1/embeddings", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["model"] in (DEFAULT, "tiny")
        return [item["embedding"] for item in response.json()["data"]]

    assert {len(v) for v in vectors("tiny")} == {DIMENSION}
    assert {len(v) for v in vectors("all-MiniLM-L6-v2")} == {384}
    embed = client.post("/embed", json={"inputs": ["one text"], "model": "tiny"})
    assert embed.status_code == 200 and len(embed.json()[0]) == DIMENSION
    assert len(client.post("/embed", json={"inputs": "one text"}).json()[0]) == 384
    missing = client.post("/v1/embeddings", json={"model": "gpt-embed", "input": "x"})
    assert missing.status_code == 404
    assert "'tiny'" in missing.json()["error"]["message"]


def test_a_collection_made_for_a_model_is_ingested_and_searched_by_it(
    two_models_service: Service, tiny_model: object
) -> None:
    service, name = two_models_service, _collection()
    made = service.client.put(f"/v1/collections/{name}", json={"model": "tiny"})
    assert made.status_code == 201, made.text
    assert made.json() == {"name": name, "points": 0, "dimension": DIMENSION, "model": "tiny"}
    assert service.client.put(f"/v1/collections/{name}", json={"model": "tiny"}).status_code == 200
    other = service.client.put(f"/v1/collections/{name}", json={"model": DEFAULT})
    assert other.status_code == 409

    status = service.wait_for(service.ingest(name, DOCUMENTS)["task_id"])
    assert status["state"] == "stored" and status["stored"] == 3, status
    stored = service.client.get(f"/v1/collections/{name}/documents/bread?with_vector=true").json()
    assert stored["model"] == "tiny" and len(stored["vector"]) == DIMENSION
    assert stored["model_fingerprint"] == fingerprint(str(tiny_model))
    assert stored["normalized"] is True and stored["precision"]

    # The stored vector is the tiny model's own for that text.
    body = {"model": "tiny", "input": DOCUMENTS[2]["text"], "encoding_format": "base64"}
    expected = decode_vector(
        service.client.post("/v1/embeddings", json=body).json()["data"][0]["embedding"]
    )
    assert np.allclose(stored["vector"], expected, atol=1e-4)

    found = service.client.post(
        f"/v1/collections/{name}/search", json={"query": DOCUMENTS[2]["text"], "top_k": 3}
    ).json()
    assert found["model"] == "tiny" and found["hits"][0]["id"] == "bread"


def test_a_collection_made_by_ingest_belongs_to_the_default_model(
    two_models_service: Service,
) -> None:
    service, name = two_models_service, _collection()
    assert service.wait_for(service.ingest(name, DOCUMENTS)["task_id"])["state"] == "stored"
    info = service.client.get(f"/v1/collections/{name}").json()
    assert (info["model"], info["dimension"]) == (DEFAULT, 384)
    found = service.client.post(f"/v1/collections/{name}/search", json={"query": "waves"})
    assert found.status_code == 200 and found.json()["model"] == DEFAULT
    assert service.client.put(f"/v1/collections/{name}", json={"model": "tiny"}).status_code == 409
