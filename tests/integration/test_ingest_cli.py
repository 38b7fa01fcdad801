"""`embedapp ingest` end to end against `embedapp serve`: resumed without embedding twice,
truncation reported, chunking, and an unreachable gateway named within seconds."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Service
from tests.metrics_text import scrape, value
from tests.workers import store_queue_unconsumed

pytestmark = pytest.mark.integration

LINES = 1_000
LONG_TEXT = "A river bends around the old mill and the water runs slow. " * 60  # ~780 tokens


def _points(service: Service, collection: str) -> int:
    response = service.client.get(f"/v1/collections/{collection}")
    return response.json()["points"] if response.status_code == 200 else 0


def _embedded(service: Service) -> float:
    samples = scrape(f"http://127.0.0.1:{service.metrics_ports['bulk']}/metrics")
    return value(samples, "embedapp_documents_embedded_total")


def _command(path: Path, collection: str, *options: str) -> list[str]:
    return [
        sys.executable, "-m", "embedapp", "ingest", str(path), "--collection", collection,
        "--batch-size", "100", "--in-flight", "2", "--json", *options,
    ]  # fmt: skip


def _summary(stdout: bytes) -> dict[str, Any]:
    return json.loads(stdout.decode().strip().splitlines()[-1])


def _steady(read: Any, *, quiet_s: float = 3.0, timeout: float = 60.0) -> float:
    """Wait until `read()` has not changed for `quiet_s`; return its value."""
    deadline = time.monotonic() + timeout
    settled, last = time.monotonic(), read()
    while time.monotonic() - settled < quiet_s:
        assert time.monotonic() < deadline, "never settled"
        time.sleep(0.3)
        if (now := read()) != last:
            settled, last = time.monotonic(), now
    return last


def test_a_run_interrupted_with_jobs_in_flight_resumes_without_embedding_any_twice(
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
    while _points(service, collection) < 200:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first run stored nothing"
        time.sleep(0.2)
    # Jobs the store cannot finish stay in flight: the interrupt leaves them to a re-run
    # that starts at once, as a user would (the report: the in-flight batches embedded twice).
    with store_queue_unconsumed(service.client):
        first.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = first.communicate(timeout=60)
        assert first.returncode == 130, err.decode()
        interrupted = _summary(out)
        assert interrupted["interrupted"] is True
        assert b"run the same command again to resume" in err
        second = subprocess.Popen(
            _command(source, collection),
            env=service.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(5)  # the re-run is under way (it would have sent its batches by now)
        _steady(lambda: _embedded(service))
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err.decode()
    resumed = _summary(out)
    assert resumed["failed"] == 0 and not resumed["interrupted"]
    assert resumed["done_before"] >= interrupted["stored"] > 0  # not sent again
    assert resumed["done_before"] + resumed["stored"] == LINES

    assert _points(service, collection) == LINES
    # Across both runs the workers embedded every document exactly once.
    assert _embedded(service) - embedded_before == LINES
    stored = service.client.get(f"/v1/collections/{collection}/documents/d734").json()
    assert stored["metadata"] == {"part": 734 % 4}


def test_truncated_documents_are_reported_and_chunking_keeps_the_whole_text(
    service: Service, collection: str, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.jsonl"
    documents = [("short-1", "A short note."), ("long-1", LONG_TEXT), ("short-2", "Another."),
                 ("long-2", LONG_TEXT.upper())]  # fmt: skip
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in documents))

    cut = subprocess.run(_command(source, collection), env=service.env, capture_output=True)
    assert cut.returncode == 0, cut.stderr.decode()
    summary = _summary(cut.stdout)
    assert summary["truncated"] == 2
    assert Path(summary["truncated_ids"]).read_text().split() == ["long-1", "long-2"]
    assert b"2  cut to the model's window (--chunk-size keeps all text)" in cut.stderr
    assert f"their ids: {summary['truncated_ids']}".encode() in cut.stderr

    chunked = f"{collection}-chunked"
    whole = subprocess.run(
        _command(source, chunked, "--chunk-size", "128", "--chunk-overlap", "16"),
        env=service.env,
        capture_output=True,
    )
    assert whole.returncode == 0, whole.stderr.decode()
    assert _summary(whole.stdout)["truncated"] == 0
    stored = service.client.get(f"/v1/collections/{chunked}/documents/long-1").json()
    assert stored["text"] == LONG_TEXT and len(stored["chunks"]) >= 6
    assert _points(service, chunked) == 2 + 2 * len(stored["chunks"])


def _silent_port() -> tuple[socket.socket, int]:
    """A port that takes connections and never answers (the kernel queues them)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener, listener.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_an_unreachable_gateway_is_named_with_the_reason_within_10_seconds(
    kind: str, service: Service, tmp_path: Path
) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text('{"id": "a", "text": "hello"}\n')
    listener, port = _silent_port()
    if kind == "refused":
        listener.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        run = subprocess.run(
            _command(source, "nowhere", "--url", url),
            env={**service.env, "COLUMNS": "80"},
            capture_output=True,
            timeout=30,
        )
    finally:
        listener.close()
    assert time.monotonic() - started < 10
    assert run.returncode == 1
    said = " ".join(run.stderr.decode().split())
    reason = "Connection refused" if kind == "refused" else "did not answer within 5 s"
    assert url in said and reason in said, said
    assert _summary(run.stdout)["stopped"] is True
