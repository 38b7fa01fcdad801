"""The ingest client's loop against a fake gateway: batching, 429s, failures, resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from embedapp.cli.bulk_ingest import (
    MAX_ATTEMPTS,
    GatewayUnreachable,
    Ingest,
    Refused,
    batches,
    reach,
)
from embedapp.cli.checkpoint import Checkpoint
from embedapp.records import Record, Rejected


class FakeGateway:
    """Accepts jobs (after `refuse` 429s), reports them stored on the first poll."""

    def __init__(
        self,
        *,
        refuse: int = 0,
        fail_ids: frozenset[str] = frozenset(),
        long_ids: frozenset[str] = frozenset(),
        earlier: dict[str, dict] | None = None,
    ) -> None:
        self.refuse = refuse
        self.fail_ids = fail_ids
        self.long_ids = long_ids
        self.earlier = earlier or {}  # what jobs of an earlier run answer: id: status
        self.jobs: dict[str, list[dict]] = {}
        self.bodies: list[dict] = []
        self.polls: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            if self.refuse:
                self.refuse -= 1
                return httpx.Response(429, headers={"Retry-After": "7"}, json={})
            task_id = f"t{len(self.jobs)}"
            self.bodies.append(json.loads(request.content))
            self.jobs[task_id] = self.bodies[-1]["documents"]
            return httpx.Response(202, json={"task_id": task_id})
        task_id = request.url.path.rsplit("/", 1)[-1]
        if task_id in self.earlier:
            return httpx.Response(**self.earlier[task_id])
        documents = self.jobs[task_id]
        self.polls[task_id] = self.polls.get(task_id, 0) + 1
        if self.polls[task_id] == 1:  # half way on the first poll
            half = {"state": "embedding", "total": len(documents), "done": len(documents) // 2}
            return httpx.Response(200, json=half)
        if any(d["id"] in self.fail_ids for d in documents):
            return httpx.Response(200, json={"state": "failed", "error": "boom"})
        truncated = [d["id"] for d in documents if d["id"] in self.long_ids]
        stored = {"state": "stored", "embedded": len(documents), "truncated": truncated}
        return httpx.Response(200, json=stored)


def _records(count: int) -> list[Record | Rejected]:
    return [Record(i + 1, f"d{i}", f"text {i}") for i in range(count)]


def _run(gateway: FakeGateway, checkpoint: Checkpoint, items, *, size: int = 10, **options):
    slept: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(gateway), base_url="http://gw") as client:
        run = Ingest(client, "c", checkpoint, window=2, sleep=slept.append, **options)
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
    assert tally.done_before == 20
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


def test_a_rerun_follows_the_jobs_an_earlier_run_left_in_flight_instead_of_resending(
    tmp_path: Path,
) -> None:
    first = _checkpoint(tmp_path)
    first.mark(0)
    first.sent(1, "old-stored")  # finished after the interrupt
    first.sent(2, "old-failed")  # a re-run tries a failed batch again
    first.sent(3, "old-expired")  # unknown to the service: sent again
    gateway = FakeGateway(
        earlier={
            "old-stored": {"status_code": 200, "json": {"state": "stored", "embedded": 10}},
            "old-failed": {"status_code": 200, "json": {"state": "failed", "error": "x"}},
            "old-expired": {"status_code": 404, "json": {}},
        }
    )
    checkpoint = _checkpoint(tmp_path)
    tally, _ = _run(gateway, checkpoint, _records(50))
    sent = sorted(job[0]["id"] for job in gateway.jobs.values())
    assert sent == ["d20", "d30", "d40"]  # batch 1 was followed, not sent again
    assert (tally.done_before, tally.stored, tally.embedded, tally.failed) == (10, 40, 40, 0)
    assert checkpoint.done == {0, 1, 2, 3, 4} and checkpoint.pending == {}


def test_the_jobs_in_flight_are_kept_in_the_checkpoint_until_they_are_stored(
    tmp_path: Path,
) -> None:
    checkpoint = _checkpoint(tmp_path)
    seen: list[dict[str, int]] = []

    class Watching(FakeGateway):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            seen.append(dict(_checkpoint(tmp_path).pending))
            return super().__call__(request)

    _run(Watching(), checkpoint, _records(30))
    assert {"t0": 0} in seen and {"t0": 0, "t1": 1} in seen
    assert _checkpoint(tmp_path).pending == {}


def test_progress_moves_within_a_job_and_truncated_ids_are_listed(tmp_path: Path) -> None:
    gateway = FakeGateway(long_ids=frozenset({"d3", "d17"}))
    shown: list[int] = []
    checkpoint = _checkpoint(tmp_path)
    _run(
        gateway,
        checkpoint,
        _records(20),
        chunking={"size": 64, "overlap": 8},
        on_change=lambda t: shown.append(t.finished + t.in_flight_done),
    )
    assert 10 in shown  # half of each 10-document job, before any job was stored
    assert shown == sorted(shown) and shown[-1] == 20
    assert all(body["chunking"] == {"size": 64, "overlap": 8} for body in gateway.bodies)
    assert checkpoint.truncated_ids() == ["d3", "d17"]


def test_a_refused_key_stops_the_run_at_the_first_batch(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "a valid API key is required"}})

    with httpx.Client(transport=httpx.MockTransport(refuse), base_url="http://gw") as client:
        run = Ingest(client, "c", _checkpoint(tmp_path))
        with pytest.raises(Refused, match="401 a valid API key is required"):
            run.run(batches(_records(50), 10))


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "cannot reach the gateway at "
         "http://gw: \\[Errno 111\\] Connection refused"),
        (httpx.ReadTimeout("timed out"), "the gateway at http://gw did not answer within 5 s"),
        (httpx.Response(404), "answered GET /health with 404: is it embedapp\\?"),
    ],
)  # fmt: skip
def test_reach_says_which_url_and_why(answer: object, says: str) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    transport = httpx.MockTransport(gateway)
    with (
        httpx.Client(transport=transport, base_url="http://gw") as client,
        pytest.raises(GatewayUnreachable, match=says),
    ):
        reach(client)


def test_ctrl_c_while_a_batch_is_sent_still_records_its_job(tmp_path: Path) -> None:
    class Interrupted(FakeGateway):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the gateway accepts the job
            return super().__call__(request)

    checkpoint = _checkpoint(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _run(Interrupted(), checkpoint, _records(30))
    # The gateway accepted t0: a re-run must follow it, not send (and embed) it again.
    assert _checkpoint(tmp_path).pending == {"t0": 0}


def test_ctrl_c_while_waiting_out_429s_stops_at_once(tmp_path: Path) -> None:
    gateway = FakeGateway(refuse=3)

    def ctrl_c(_: float) -> None:  # Ctrl-C while the run waits as Retry-After says
        os.kill(os.getpid(), signal.SIGINT)

    checkpoint = _checkpoint(tmp_path)
    with (
        httpx.Client(transport=httpx.MockTransport(gateway), base_url="http://gw") as client,
        pytest.raises(KeyboardInterrupt),
    ):
        Ingest(client, "c", checkpoint, sleep=ctrl_c).run(batches(_records(30), 10))
    assert gateway.refuse == 2 and gateway.jobs == {}  # no further try after the first wait
