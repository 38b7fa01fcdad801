"""Search: exact nearest neighbours, metadata filters, the model guard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

CORPUS = [
    (
        "cats",
        "Cats are small domesticated carnivorous mammals.",
        {"topic": "animals", "year": 2020},
    ),
    (
        "dogs",
        "Dogs were the first species to be domesticated by humans.",
        {"topic": "animals", "year": 2021},
    ),
    ("qdrant", "Qdrant is a vector similarity search engine.", {"topic": "tech", "year": 2021}),
    ("celery", "Celery is a distributed task queue for Python.", {"topic": "tech", "year": 2022}),
    (
        "paris",
        "Paris is the capital and largest city of France.",
        {"topic": "places", "year": 2020},
    ),
    ("rome", "Rome was the capital of the Roman Empire.", {"topic": "places", "year": 2019}),
    (
        "tea",
        "Green tea is made from unoxidised Camellia sinensis leaves.",
        {"topic": "food", "year": 2022},
    ),
    (
        "bread",
        "Sourdough bread is leavened by wild yeast and lactobacilli.",
        {"topic": "food", "year": 2018},
    ),
]


@pytest.fixture(scope="module")
def corpus(service: Service) -> str:
    name = "search-corpus"
    docs = [{"id": i, "text": t, "metadata": m} for i, t, m in CORPUS]
    assert service.wait_for(service.ingest(name, docs)["task_id"])["state"] == "stored"
    return name


def _brute_force(reference_model: Any, query: str, ids: list[str]) -> list[tuple[str, float]]:
    texts = {i: t for i, t, _ in CORPUS}
    vectors = reference_model.encode([query] + [texts[i] for i in ids], normalize_embeddings=True)
    scores = vectors[1:] @ vectors[0]
    return sorted(zip(ids, scores.tolist(), strict=True), key=lambda pair: -pair[1])


# How far the service's cosines may sit from the library's float32 ones, by the precision the
# workers chose (EMBEDAPP_DTYPE=auto runs bfloat16 where the CPU makes it faster).
AGREEMENT = {"float32": 1e-3, "bfloat16": 5e-3}


@pytest.mark.parametrize(
    "query", ["which animals live with people?", "a message broker for jobs", "European capitals"]
)
def test_results_equal_an_exact_ranking(
    service: Service, corpus: str, reference_model: Any, query: str
) -> None:
    response = service.client.post(
        f"/v1/collections/{corpus}/search", json={"query": query, "top_k": len(CORPUS)}
    )
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    # Exact: the order and scores a full scan of the stored vectors gives for the query's vector.
    (card,) = service.client.get("/v1/models").json()["data"]
    body = {"model": card["id"], "input": [query]}
    (embedded,) = service.client.post("/v1/embeddings", json=body).json()["data"]
    stored = {
        i: service.client.get(
            f"/v1/collections/{corpus}/documents/{i}", params={"with_vector": True}
        ).json()
        for i, _, _ in CORPUS
    }
    scan = sorted(
        ((i, float(np.dot(doc["vector"], embedded["embedding"]))) for i, doc in stored.items()),
        key=lambda pair: -pair[1],
    )
    assert [h["id"] for h in hits] == [i for i, _ in scan]
    assert np.allclose([h["score"] for h in hits], [s for _, s in scan], atol=1e-5)
    assert hits[0]["text"] == dict((i, t) for i, t, _ in CORPUS)[hits[0]["id"]]
    # And the vectors are the model's: each score within the precision's reach of the
    # library's own float32 vectors.
    assert {doc["precision"] for doc in stored.values()} == {card["precision"]}
    expected = dict(_brute_force(reference_model, query, [i for i, _, _ in CORPUS]))
    gaps = [abs(h["score"] - expected[h["id"]]) for h in hits]
    assert max(gaps) < AGREEMENT[card["precision"]], (card["precision"], gaps)


def test_top_k_filter_and_without_text(service: Service, corpus: str, reference_model: Any) -> None:
    body = {
        "query": "programming tools",
        "top_k": 2,
        "filter": {"year": [2021, 2022]},
        "with_text": False,
    }
    hits = service.client.post(f"/v1/collections/{corpus}/search", json=body).json()["hits"]
    allowed = [i for i, _, m in CORPUS if m["year"] in (2021, 2022)]
    expected = _brute_force(reference_model, "programming tools", allowed)[:2]
    assert [h["id"] for h in hits] == [i for i, _ in expected]
    assert all("text" not in h and h["metadata"]["year"] in (2021, 2022) for h in hits)

    body = {"query": "food", "top_k": 10, "filter": {"topic": "food"}}
    hits = service.client.post(f"/v1/collections/{corpus}/search", json=body).json()["hits"]
    assert {h["id"] for h in hits} == {"tea", "bread"}


def test_searching_a_missing_collection_is_404(service: Service, collection: str) -> None:
    response = service.client.post(f"/v1/collections/{collection}/search", json={"query": "x"})
    assert response.status_code == 404
    assert collection in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "x", "top_k": 0},
        {"query": "x", "filter": {"year": 1.5}},
        {},
        {"query": "x", "hnsw_ef": 0},
        {"query": "x", "hnsw_ef": 4097},
        {"query": "x", "exact": "sometimes"},
    ],
)
def test_bad_search_requests_are_422(service: Service, corpus: str, body: dict) -> None:
    assert service.client.post(f"/v1/collections/{corpus}/search", json=body).status_code == 422


@pytest.mark.parametrize("how", [{"exact": True}, {"hnsw_ef": 16}, {"hnsw_ef": 4096}])
def test_a_search_may_say_how_hard_to_look(service: Service, corpus: str, how: dict) -> None:
    body = {"query": "a message broker for jobs", "top_k": len(CORPUS)}
    usual = service.client.post(f"/v1/collections/{corpus}/search", json=body).json()["hits"]
    chosen = service.client.post(f"/v1/collections/{corpus}/search", json=body | how)
    assert chosen.status_code == 200, chosen.text
    # A collection this small holds no index yet: every way finds the same, exact ranking.
    assert [h["id"] for h in chosen.json()["hits"]] == [h["id"] for h in usual]


def test_a_collection_of_another_model_is_a_409(service: Service, collection: str) -> None:
    # Another deployment wrote this collection with another model: craft its store message.
    from embedapp.celery_app import celery_app
    from embedapp.messages import encode_vector

    written = celery_app.send_task(
        "embedapp.store.upsert",
        args=(
            {
                "job_id": "other",
                "collection": collection,
                "model": "other-model",
                "dimension": 384,
                "total": 1,
                "embedded": 1,
                "unchanged": 0,
                "truncated": [],
                "chunking": None,
                "skipped": [],
                "points": [
                    {
                        "doc_id": "x",
                        "text": "x",
                        "metadata": {},
                        "content_hash": "h",
                        "vector_b64": encode_vector(np.ones(384) / np.sqrt(384)),
                    }
                ],
            },
        ),
        queue="store",
    )
    assert written.get(timeout=60)["stored"] == 1
    written.forget()

    response = service.client.post(
        f"/v1/collections/{collection}/documents", json={"documents": [{"text": "hello"}]}
    )
    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert "other-model" in message and "sentence-transformers/all-MiniLM-L6-v2" in message
    response = service.client.post(f"/v1/collections/{collection}/search", json={"query": "x"})
    assert response.status_code == 409


def test_no_document_text_reaches_the_service_log(service: Service, collection: str) -> None:
    secret = "Marguerite's diagnosis was confirmed on the ninth of March."
    job = service.ingest(collection, [{"id": "private", "text": secret}])
    assert service.wait_for(job["task_id"])["state"] == "stored"
    hits = service.client.post(
        f"/v1/collections/{collection}/search", json={"query": "diagnosis"}
    ).json()["hits"]
    assert hits[0]["text"] == secret
    fetched = service.client.get(f"/v1/collections/{collection}/documents/private")
    assert fetched.json()["text"] == secret
    assert "Marguerite" not in service.log_text()
