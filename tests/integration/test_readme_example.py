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
