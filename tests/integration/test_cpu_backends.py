"""The CPU runtimes beside torch (EMBEDAPP_BACKEND=openvino, onnx-int8) behind real celery
workers: the prefork children of both lanes start together and share one ONNX export, both
lanes embed with the backend in one precision, and every vector records it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embedapp.settings import Settings
from tests.integration.conftest import _serve, _vhost

pytestmark = pytest.mark.integration

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = ["The quick brown fox.", "Embeddings turn text into vectors.", "猫が好きです。"]


@pytest.mark.parametrize(
    ("backend", "min_cosine"),
    [("openvino", 0.999), ("onnx-int8", 0.98)],  # int8 moves vectors by ~0.01, and says so
)
def test_a_cpu_backend_serves_both_lanes_with_the_models_vectors(
    backend: str, min_cosine: float, tmp_path: Path, collection: str, reference_model: Any
) -> None:
    # Queues and task state apart from the session's service, which may serve meanwhile.
    apart = {
        "broker_url": _vhost(Settings(), f"embedapp-{backend}"),
        "result_backend": "redis://127.0.0.1:6379/4",
    }
    with _serve(tmp_path, concurrency=1, backend=backend, **apart) as service:
        (card,) = service.client.get("/v1/models").json()["data"]
        response = service.client.post("/v1/embeddings", json={"model": MODEL, "input": TEXTS})
        vectors = np.array([item["embedding"] for item in response.json()["data"]])
        cosines = np.sum(vectors * reference_model.encode(TEXTS), axis=1)
        assert (cosines > min_cosine).all(), cosines
        accepted = service.ingest(collection, [{"id": "cpu", "text": TEXTS[1]}])
        assert service.wait_for(accepted["task_id"])["state"] == "stored"
        stored = service.client.get(f"/v1/collections/{collection}/documents/cpu").json()
        assert stored["precision"] == card["precision"]
        log = service.log_text()
    # One child per lane, each on the backend, each saying which precision and why.
    assert log.count(f"backend {backend}, {card['precision']} (") == 2
    # The first measured and kept its decision, the second served it: measured one by one
    # on a busy machine, the lanes chose bfloat16 and float32.
    if backend == "openvino":
        (kept,) = (tmp_path / "precision").glob("*.json")
        assert log.count(f"kept in {kept};") == 1
    if backend == "onnx-int8":
        assert card["precision"] == "int8"
