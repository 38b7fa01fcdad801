"""Exact document identity through the real service: a document whose id looks like a chunk's
key (`x#0`) is a document of its own, and the chunked `x` keeps every chunk."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration


def test_a_document_named_x_hash_0_leaves_chunk_0_of_x_alone(
    service: Service, collection: str
) -> None:
    text = " ".join(f"Sentence {i} of the chunked document." for i in range(200))
    chunked = service.client.post(
        f"/v1/collections/{collection}/documents",
        json={"documents": [{"id": "x", "text": text}], "chunking": {"size": 64, "overlap": 8}},
    )
    assert chunked.status_code == 202, chunked.text
    assert service.wait_for(chunked.json()["task_id"])["state"] == "stored"
    before = service.client.get(f"/v1/collections/{collection}/documents/x").json()

    lookalike = service.ingest(collection, [{"id": "x#0", "text": "a document of its own"}])
    assert service.wait_for(lookalike["task_id"])["state"] == "stored"

    after = service.client.get(f"/v1/collections/{collection}/documents/x").json()
    assert after["text"] == text and after["chunks"] == before["chunks"]
    own = service.client.get(f"/v1/collections/{collection}/documents/x%230").json()
    assert own["text"] == "a document of its own"
    points = service.client.get(f"/v1/collections/{collection}").json()["points"]
    assert points == len(before["chunks"]) + 1
