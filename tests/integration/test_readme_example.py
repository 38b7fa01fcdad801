"""The README's curl example, pasted as written (only the port differs)."""

import json
import subprocess

import pytest

from tests.integration.conftest import Service
from tests.readme import block_after

pytestmark = pytest.mark.integration


def test_the_curl_example_is_accepted_and_stored(service: Service) -> None:
    command = block_after("curl-example").replace("http://127.0.0.1:8000", service.url)
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    accepted = json.loads(result.stdout)
    assert accepted["count"] == 2 and accepted["ids"][0] == "1"
    status = service.wait_for(accepted["task_id"])
    assert status["state"] == "stored" and status["stored"] == 2
    stored = service.client.get("/v1/collections/notes/documents/1").json()
    assert stored["text"] == "Qdrant stores vectors." and stored["metadata"] == {"lang": "en"}
