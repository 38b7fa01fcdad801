"""The ingest client's loop against a fake gateway: batching, 429s, failures, resume."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from embedapp.cli.bulk_ingest import MAX_ATTEMPTS, Checkpoint, GatewayUnreachable, Ingest, batches
from embedapp.cli.records import Record, Rejected


class FakeGateway:
    """Accepts jobs (after `refuse` 429s), reports them stored on the first poll."""

    def __init__(self, *, refuse: int = 0, fail_ids: frozenset[str] = frozenset()) -> None:
        self.refuse = refuse
        self.fail_ids = fail_ids
        self.jobs: dict[str, list[dict]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            if self.refuse:
                self.refuse -= 1
                return httpx.Response(429, headers={"Retry-After": "7"}, json={})
            task_id = f"t{len(self.jobs)}"
            self.jobs[task_id] = json.loads(request.content)["documents"]
            return httpx.Response(202, json={"task_id": task_id})
        task_id = request.url.path.rsplit("/", 1)[-1]
        documents = self.jobs[task_id]
        if any(d["id"] in self.fail_ids for d in documents):
            return httpx.Response(200, json={"state": "failed", "error": "boom"})
        return httpx.Response(
            200, json={"state": "stored", "embedded": len(documents), "unchanged": 0}
        )


def _records(count: int) -> list[Record | Rejected]:
    return [Record(i + 1, f"d{i}", f"text {i}") for i in range(count)]


def _run(gateway: FakeGateway, checkpoint: Checkpoint, items, *, size: int = 10):
    slept: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(gateway), base_url="http://gw") as client:
        run = Ingest(client, "c", checkpoint, window=2, sleep=slept.append)
        return run.run(batches(items, size)), slept


def _checkpoint(tmp_path: Path) -> Checkpoint:
    source = tmp_path / "docs.jsonl"
    if not source.exists():
        source.write_text("")
    return Checkpoint(tmp_path / "state", source, key={"collection": "c"})


def test_every_document_is_sent_once_in_batches_and_429_waits_retry_after(tmp_path: Path) -> None:
    gateway = FakeGateway(refuse=2)
    tally, slept = _run(gateway, _checkpoint(tmp_path), _records(95))
    sent = [d["id"] for job in gateway.jobs.values() for d in job]
    assert sent == [f"d{i}" for i in range(95)]
    assert [len(job) for job in gateway.jobs.values()] == [10] * 9 + [5]
    assert slept.count(7.0) == 2
    assert (tally.stored, tally.embedded, tally.failed) == (95, 95, 0)


def test_bad_lines_and_failed_jobs_are_counted_and_not_marked_done(tmp_path: Path) -> None:
    items = _records(20)
    items[3] = Rejected(4, "not JSON")
    items[5] = Record(6, "d0", "a repeated id")  # repeats line 1 in the same batch
    checkpoint = _checkpoint(tmp_path)
    tally, _ = _run(FakeGateway(fail_ids=frozenset({"d15"})), checkpoint, items)
    assert tally.failed == 2 + 10
    assert any("line 4: not JSON" in e for e in tally.errors)
    assert any("repeats line 1" in e for e in tally.errors)
    assert any("lines 11-20" in e and "boom" in e for e in tally.errors)
    assert checkpoint.done == {0}  # the failed batch is tried again by a re-run


def test_a_rerun_skips_the_batches_a_previous_run_stored(tmp_path: Path) -> None:
    first = _checkpoint(tmp_path)
    first.mark(0)
    first.mark(2)
    gateway = FakeGateway()
    tally, _ = _run(gateway, _checkpoint(tmp_path), _records(40))
    assert tally.skipped == 20
    assert [job[0]["id"] for job in gateway.jobs.values()] == ["d10", "d30"]


def test_a_changed_file_starts_over(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path)
    checkpoint.mark(0)
    (tmp_path / "docs.jsonl").write_text("changed\n")
    assert _checkpoint(tmp_path).done == set()


def test_an_unreachable_gateway_stops_the_run_instead_of_failing_every_batch(
    tmp_path: Path,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    slept: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(refuse), base_url="http://gw") as client:
        run = Ingest(client, "c", _checkpoint(tmp_path), sleep=slept.append)
        with pytest.raises(GatewayUnreachable, match="does not answer"):
            run.run(batches(_records(50), 10))
    assert run.tally.submitted == 0 and len(slept) == MAX_ATTEMPTS - 1
