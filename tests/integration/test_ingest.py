"""Documents in over HTTP, embedded by the prefork workers, read back from Qdrant."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from embedapp import jobs
from embedapp.celery_app import celery_app
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

TEXTS = [
    "The cat sat on the mat.",
    "Qdrant is a vector database written in Rust.",
    "Celery distributes tasks over RabbitMQ to prefork workers.",
    "Sentence embeddings map text to points in a vector space where meaning is distance.",
    "Bonjour, comment allez-vous ?",
    "短い日本語の文章です。",
    "A much longer passage about retrieval augmented generation, which first searches a corpus "
    "for passages relevant to a question and then hands them to a language model, so that the "
    "answer is grounded in documents the model never saw during training. " * 3,
    "x",
]


def _documents(prefix: str = "doc") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{i}",
            "text": text,
            "metadata": {"n": i, "tags": ["a", "b"], "src": prefix},
        }
        for i, text in enumerate(TEXTS)
    ]


def _cosine(a: list[float], b: np.ndarray) -> float:
    va = np.asarray(a, dtype=np.float64)
    vb = np.asarray(b, dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def test_documents_are_stored_once_with_the_models_vectors(
    service: Service, collection: str, reference_model: Any
) -> None:
    docs = _documents()
    accepted = service.ingest(collection, docs)
    assert accepted["count"] == len(docs)
    assert accepted["ids"] == [d["id"] for d in docs]

    status = service.wait_for(accepted["task_id"])
    assert status == {
        "task_id": accepted["task_id"],
        "state": "stored",
        "collection": collection,
        "total": len(docs),
        "done": len(docs),
        "embedded": len(docs),
        "unchanged": 0,
        "stored": len(docs),
        "truncated": [],
    }

    info = service.client.get(f"/v1/collections/{collection}").json()
    assert info["points"] == len(docs)
    assert info["dimension"] == reference_model.get_embedding_dimension()
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"

    expected = reference_model.encode([d["text"] for d in docs])
    for doc, vector in zip(docs, expected, strict=True):
        response = service.client.get(
            f"/v1/collections/{collection}/documents/{doc['id']}", params={"with_vector": "true"}
        )
        assert response.status_code == 200, response.text
        stored = response.json()
        assert stored["id"] == doc["id"]
        assert stored["text"] == doc["text"]
        assert stored["metadata"] == doc["metadata"]
        assert stored["model"] == "sentence-transformers/all-MiniLM-L6-v2"
        assert _cosine(stored["vector"], vector) >= 0.999


def test_posting_the_same_documents_again_adds_no_points(service: Service, collection: str) -> None:
    docs = _documents()
    for _ in range(2):
        assert service.wait_for(service.ingest(collection, docs)["task_id"])["state"] == "stored"
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == len(docs)


def test_a_document_without_an_id_gets_one_it_can_be_read_by(
    service: Service, collection: str
) -> None:
    accepted = service.ingest(collection, [{"text": "no id given"}, {"id": "given", "text": "id"}])
    generated, given = accepted["ids"]
    assert given == "given" and generated and generated != given
    assert service.wait_for(accepted["task_id"])["state"] == "stored"
    stored = service.client.get(f"/v1/collections/{collection}/documents/{generated}").json()
    assert stored["text"] == "no id given"
    assert stored["metadata"] == {}


def test_a_request_bigger_than_a_job_runs_as_several_jobs_followed_by_one_id(
    service: Service, collection: str
) -> None:
    docs = [{"id": f"s{i}", "text": f"split request text {i}"} for i in range(1000)]
    accepted = service.ingest(collection, docs)
    final = service.wait_for(accepted["task_id"])
    assert final["state"] == "stored", final
    assert (final["total"], final["done"], final["embedded"], final["stored"]) == (1000,) * 4
    assert service.client.get(f"/v1/collections/{collection}").json()["points"] == 1000
    # Two jobs of 500 (EMBEDAPP_MAX_JOB_DOCUMENTS), each stored under its own id.
    meta = celery_app.backend.get_task_meta(accepted["task_id"])
    assert meta["status"] == jobs.SPLIT and len(meta["result"]["parts"]) == 2
    for part in meta["result"]["parts"]:
        assert re.search(rf"embedapp\.store\.upsert\[{part}\] succeeded", service.log_text())


def test_a_long_job_reports_progress_before_it_is_stored(service: Service, collection: str) -> None:
    docs = [
        {"id": str(i), "text": f"document number {i}: " + "words in a sentence " * (i % 40)}
        for i in range(600)
    ]
    task_id = service.ingest(collection, docs)["task_id"]
    seen: list[dict[str, Any]] = []

    def record(status: dict[str, Any]) -> bool:
        seen.append(status)
        return status["state"] in ("stored", "failed")

    final = service.wait_for(task_id, until=record)
    assert final["state"] == "stored" and final["stored"] == 600
    progress = [s for s in seen if s["state"] == "embedding"]
    assert progress, f"never saw the job embedding: {seen[:3]}"
    assert all(s["total"] == 600 and 0 <= s["done"] <= 600 for s in progress)
    assert [s["done"] for s in progress] == sorted(s["done"] for s in progress)


def test_both_prefork_children_load_the_model_once_and_both_work(
    service: Service, collection: str
) -> None:
    loaded = re.findall(r"pid (\d+) serves embed.bulk", service.log_text())
    assert len(loaded) == 2 and len(set(loaded)) == 2, loaded

    batches = [
        [{"id": f"{b}-{i}", "text": f"batch {b} text {i} " * 20} for i in range(60)]
        for b in range(8)
    ]
    with ThreadPoolExecutor(8) as pool:
        task_ids = [
            a["task_id"] for a in pool.map(lambda d: service.ingest(collection, d), batches)
        ]
    for task_id in task_ids:
        assert service.wait_for(task_id)["state"] == "stored"

    workers = set(
        re.findall(
            r"(ForkPoolWorker-\d+)\] Task embedapp\.embed_documents\[[^]]+\] "
            r"succeeded",
            service.log_text(),
        )
    )
    assert len(workers) == 2, workers
    # Still one load per child: nothing reloaded the model per task (2 bulk, 2 interactive).
    assert service.log_text().count("loaded on") == 4
