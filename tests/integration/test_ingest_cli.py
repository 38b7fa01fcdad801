"""`embedapp ingest`: a 2,000-line file, interrupted and resumed, stored once and embedded once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Service
from tests.metrics_text import scrape, value

pytestmark = pytest.mark.integration

LINES = 2_000


def _points(service: Service, collection: str) -> int:
    response = service.client.get(f"/v1/collections/{collection}")
    return response.json()["points"] if response.status_code == 200 else 0


def _embedded(service: Service) -> float:
    samples = scrape(f"http://127.0.0.1:{service.metrics_ports['bulk']}/metrics")
    return value(samples, "embedapp_documents_embedded_total")


def _command(path: Path, collection: str) -> list[str]:
    return [
        sys.executable, "-m", "embedapp", "ingest", str(path), "--collection", collection,
        "--batch-size", "100", "--in-flight", "2", "--json",
    ]  # fmt: skip


def _summary(stdout: bytes) -> dict[str, Any]:
    return json.loads(stdout.decode().strip().splitlines()[-1])


def test_ingest_stores_a_file_and_resumes_without_embedding_twice(
    service: Service, collection: str, tmp_path: Path
) -> None:
    source = tmp_path / "docs.jsonl"
    with source.open("w") as out:
        for i in range(LINES):
            text = f"document {i} about {['rivers', 'engines', 'poems', 'markets'][i % 4]} " * (
                1 + i % 5
            )
            out.write(json.dumps({"id": f"d{i}", "text": text, "part": i % 4}) + "\n")
    embedded_before = _embedded(service)

    first = subprocess.Popen(
        _command(source, collection),
        env=service.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while _points(service, collection) < 500:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first run stored nothing"
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err.decode()
    interrupted = _summary(out)
    assert interrupted["interrupted"] is True
    assert 0 < interrupted["stored"] < LINES
    assert b"run the same command again to resume" in err

    # Accepted jobs are never lost: those in flight at the interrupt finish on their own.
    settled, last = time.monotonic(), -1
    while time.monotonic() - settled < 3:
        now = _points(service, collection)
        if now != last:
            settled, last = time.monotonic(), now
        time.sleep(0.3)
    held = last
    assert held < LINES

    second = subprocess.run(_command(source, collection), env=service.env, capture_output=True)
    assert second.returncode == 0, second.stderr.decode()
    resumed = _summary(second.stdout)
    assert resumed["failed"] == 0 and not resumed["interrupted"]
    assert resumed["skipped"] >= interrupted["stored"]  # finished batches were not sent again
    assert resumed["skipped"] + resumed["stored"] == LINES
    assert resumed["embedded"] == LINES - held  # what was held came back "unchanged"

    assert _points(service, collection) == LINES
    # Across both runs the workers embedded every document exactly once.
    assert _embedded(service) - embedded_before == LINES
    stored = service.client.get(f"/v1/collections/{collection}/documents/d1234").json()
    assert stored["metadata"] == {"part": 1234 % 4}
