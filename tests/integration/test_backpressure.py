"""A full ingest queue says "not now" (429), and what it accepted is stored exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.conftest import Service
from tests.metrics_text import scrape, value

pytestmark = pytest.mark.integration

JOBS, DOCS_PER_JOB = 200, 20


def test_a_flood_gets_429s_and_exactly_the_accepted_documents_are_stored(
    service: Service, collection: str
) -> None:
    def post(job: int) -> tuple[list[str], httpx.Response]:
        docs = [
            {"id": f"{job}-{i}", "text": f"flood job {job} document {i} " * 8}
            for i in range(DOCS_PER_JOB)
        ]
        with httpx.Client(base_url=service.url, timeout=60) as client:
            response = client.post(
                f"/v1/collections/{collection}/documents", json={"documents": docs}
            )
        return [d["id"] for d in docs], response

    rejected = "embedapp_publish_rejected_total"
    before = value(scrape(f"{service.url}/metrics"), rejected, reason="queue_full")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(JOBS)))

    accepted = [(ids, r.json()["task_id"]) for ids, r in results if r.status_code == 202]
    refused = [r for _, r in results if r.status_code == 429]
    assert len(accepted) + len(refused) == JOBS, {r.status_code for _, r in results}
    assert refused, "the bound was never reached"
    assert accepted
    for response in refused:
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["error"]["type"] == "queue_full"
        assert "EMBEDAPP_QUEUE_MAX_LENGTH" in response.json()["error"]["message"]
    after = value(scrape(f"{service.url}/metrics"), rejected, reason="queue_full")
    assert after - before == len(refused)

    for _, task_id in accepted:
        assert service.wait_for(task_id, timeout=300)["state"] == "stored"
    # Point ids derive from document ids: as many points as accepted documents means the
    # stored set is exactly the accepted set (a refused job was never published).
    points = service.client.get(f"/v1/collections/{collection}").json()["points"]
    assert points == len(accepted) * DOCS_PER_JOB
    refused_id = next(ids for ids, r in results if r.status_code == 429)[0]
    missing = service.client.get(f"/v1/collections/{collection}/documents/{refused_id}")
    assert missing.status_code == 404
