"""The README's curl examples, pasted as written (only the port differs)."""

import json
import subprocess
from typing import Any

import pytest

from tests.integration.conftest import Service
from tests.readme import block_after

pytestmark = pytest.mark.integration


def _paste(service: Service, block: str) -> Any:
    command = block_after(block).replace("http://127.0.0.1:8000", service.url)
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_curl_example_is_accepted_and_stored_and_the_search_example_finds_it(
    service: Service,
) -> None:
    accepted = _paste(service, "curl-example")
    assert accepted["count"] == 2 and accepted["ids"][0] == "1"
    status = service.wait_for(accepted["task_id"])
    assert status["state"] == "stored" and status["stored"] == 2
    stored = service.client.get("/v1/collections/notes/documents/1").json()
    assert stored["text"] == "Qdrant stores vectors." and stored["metadata"] == {"lang": "en"}

    found = _paste(service, "search-example")
    assert [hit["id"] for hit in found["hits"]] == ["1"]  # the one document with lang "en"
    assert found["hits"][0]["text"] == "Qdrant stores vectors."


def test_the_filter_example_keeps_what_its_conditions_say(service: Service) -> None:
    def note(i: int, **metadata: Any) -> dict[str, Any]:
        return {
            "id": f"f{i}",
            "text": f"Vectors are kept in Qdrant, note {i}.",
            "metadata": metadata,
        }

    kept = {"lang": "de", "year": 2021, "published": "2024-03-01", "author": "Ann"}
    accepted = service.ingest(
        "notes",
        [
            note(1, **kept),
            note(2, **{**kept, "lang": "fr"}),  # not en or de
            note(3, **{**kept, "year": 2019}),  # too old
            note(4, **{**kept, "published": "2023-12-31T23:00:00Z"}),  # published too early
            note(5, **{**kept, "draft": True}),  # a draft
            note(6, **{k: v for k, v in kept.items() if k != "author"}),  # no author
            note(7, **{**kept, "author": "Bo", "draft": False}),
        ],
    )
    assert service.wait_for(accepted["task_id"])["state"] == "stored"
    found = _paste(service, "filter-example")
    assert sorted(hit["id"] for hit in found["hits"]) == ["f1", "f7"]
