"""Feed a file of documents to the gateway: batched, bounded in flight, resumable.

Progress is kept in a checkpoint file: the batches whose jobs are stored, and the jobs in
flight. A re-run skips stored batches without sending them and follows the jobs an earlier
run left in flight instead of sending their batches again, so nothing is embedded twice;
a batch is sent again only if its job failed or the service no longer knows it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import httpx

from embedapp.cli.checkpoint import Checkpoint
from embedapp.records import Record, Rejected

# Transient trouble (503, a gateway restarting) is retried with backoff this many times.
MAX_ATTEMPTS = 8
POLL_S = 0.5
REACH_TIMEOUT_S = 5.0


class Stopped(Exception):
    """The run cannot go on; what was stored stays stored, and a re-run resumes."""


class GatewayUnreachable(Stopped):
    """The gateway did not answer (or answered as no embedapp gateway would)."""


class Refused(Stopped):
    """The gateway refused the key: every batch would fail the same way."""


@dataclass
class Tally:
    """What a run did, in documents."""

    submitted: int = 0
    stored: int = 0  # by this run's jobs, and by jobs an earlier run left in flight
    failed: int = 0
    done_before: int = 0  # in batches an earlier run stored: not sent again
    embedded: int = 0
    unchanged: int = 0  # same id and text as stored: not embedded again
    in_flight_done: int = 0  # embedded so far by the jobs in flight (for the bar)
    errors: list[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.stored + self.failed + self.done_before

    def fail(self, count: int, message: str) -> None:
        self.failed += count
        self.errors.append(message)


@dataclass(frozen=True)
class Batch:
    """Consecutive documents of the file, numbered in file order."""

    index: int
    records: tuple[Record | Rejected, ...]

    @property
    def where(self) -> str:
        return f"lines {self.records[0].line}-{self.records[-1].line}"


def batches(items: Iterable[Record | Rejected], size: int) -> Iterator[Batch]:
    """The file cut into numbered batches (the same cut on every run of the same command)."""
    stream = iter(items)
    for index, chunk in enumerate(iter(lambda: tuple(islice(stream, size)), ())):
        yield Batch(index, chunk)


@dataclass
class InFlight:
    """A job the gateway accepted, and how far it got."""

    batch: Batch
    documents: list[dict[str, Any]]
    adopted: bool = False  # sent by an earlier run
    done: int = 0

    @property
    def sent(self) -> int:
        return len(self.documents)


def reach(client: httpx.Client) -> None:
    """Raise GatewayUnreachable, saying which URL and why, unless the gateway answers."""
    where = f"the gateway at {client.base_url}"
    try:
        response = client.get("/health", timeout=REACH_TIMEOUT_S)
    except httpx.TimeoutException as exc:
        raise GatewayUnreachable(f"{where} did not answer within {REACH_TIMEOUT_S:g} s") from exc
    except httpx.TransportError as exc:
        raise GatewayUnreachable(f"cannot reach {where}: {exc or type(exc).__name__}") from exc
    if response.status_code != 200:
        raise GatewayUnreachable(
            f"{where} answered GET /health with {response.status_code}: is it embedapp?"
        )


class Ingest:
    """Sends batches to the gateway, at most `window` jobs in flight, and follows them."""

    def __init__(
        self,
        client: httpx.Client,
        collection: str,
        checkpoint: Checkpoint,
        *,
        window: int = 4,
        chunking: dict[str, int] | None = None,
        on_change: Callable[[Tally], None] = lambda _: None,
        notify: Callable[[str], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.collection = collection
        self.checkpoint = checkpoint
        self.window = window
        self.chunking = chunking
        self.on_change = on_change
        self.notify = notify
        self.sleep = sleep
        self.tally = Tally()
        self.pending: dict[str, InFlight] = {}  # by job id
        self.adopted = {index: task for task, index in checkpoint.pending.items()}

    def run(self, batches: Iterable[Batch]) -> Tally:
        for batch in batches:
            if batch.index in self.checkpoint.done:
                self.tally.done_before += len(batch.records)
                self.on_change(self.tally)
                continue
            documents = self._documents(batch)
            if not documents:
                self.checkpoint.mark(batch.index)
            elif batch.index in self.adopted:  # an earlier run's job: follow it, not resend
                task_id = self.adopted.pop(batch.index)
                self.pending[task_id] = InFlight(batch, documents, adopted=True)
            else:
                while len(self.pending) >= self.window:
                    self._follow()
                self._submit(batch, documents)
        while self.pending:
            self._follow()
        return self.tally

    def _documents(self, batch: Batch) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for record in batch.records:
            if isinstance(record, Rejected):
                self._fail(1, f"line {record.line}: {record.reason}")
            elif record.id in seen:
                self._fail(
                    1, f"line {record.line}: id {record.id!r} repeats line {seen[record.id]}"
                )
            else:
                seen[record.id] = record.line
                documents.append(
                    {"id": record.id, "text": record.text, "metadata": record.metadata}
                )
        return documents

    def _fail(self, count: int, message: str) -> None:
        self.tally.fail(count, message)
        self.notify(f"failed: {message}")

    def _submit(self, batch: Batch, documents: list[dict[str, Any]]) -> None:
        body: dict[str, Any] = {"documents": documents}
        if self.chunking:
            body["chunking"] = self.chunking

        def accepted(response: httpx.Response) -> None:
            task_id = response.json()["task_id"]
            self.pending[task_id] = InFlight(batch, documents)
            self.checkpoint.sent(batch.index, task_id)
            self.tally.submitted += len(documents)

        response = self._post(body, accepted)
        if response is None:  # every later batch would wait out the same retries
            raise GatewayUnreachable(f"the gateway at {self.client.base_url} does not answer")
        if response.status_code in (401, 403):
            raise Refused(f"the gateway refused the key: {_reason(response)}")
        if response.status_code != 202:
            self._fail(len(documents), f"{batch.where}: {_reason(response)}")
        self.on_change(self.tally)

    def _post(
        self, body: dict[str, Any], accepted: Callable[[httpx.Response], None]
    ) -> httpx.Response | None:
        """POST a batch, `accepted` told of a 202 before anything else happens; wait out 429s
        (as told by Retry-After) and retry transient trouble."""
        url = f"/v1/collections/{self.collection}/documents"
        attempt, waiting = 0, False
        while True:
            # A Ctrl-C between the gateway's 202 and the checkpoint would leave a job that a
            # re-run does not know of, and sends (and embeds) again: it waits for the record.
            # Only the request: the waits between tries stop at once.
            with _ctrl_c_deferred():
                try:
                    response = self.client.post(url, json=body)
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 202:
                    accepted(response)
            if response is not None and response.status_code == 429:
                if not waiting:
                    waiting = True
                    self.notify("the service is busy (429): waiting as long as it asks")
                self.sleep(float(response.headers.get("Retry-After", "1")))
                continue  # the queue is full, not broken: wait as long as it takes
            transient = response is None or response.status_code in (502, 503, 504)
            attempt += 1
            if not transient or attempt >= MAX_ATTEMPTS:
                return response
            pause = min(30.0, 0.5 * 2**attempt)
            why = "no answer" if response is None else _reason(response)
            self.notify(f"the gateway: {why}; trying again in {pause:g} s")
            self.sleep(pause)

    def _follow(self) -> None:
        """Poll the jobs in flight; account for the finished ones."""
        finished = 0
        for task_id, job in list(self.pending.items()):
            try:
                response = self.client.get(f"/v1/tasks/{task_id}")
            except httpx.TransportError:
                continue
            if response.status_code == 404:  # expired, or the result backend lost it
                finished += 1
                self._resend(task_id, job, "the service no longer knows it")
                continue
            if response.status_code != 200:
                continue  # Redis away (503): ask again later; the job goes on regardless
            status = response.json()
            job.done = status.get("done") or 0
            if status["state"] not in ("stored", "failed"):
                continue
            finished += 1
            if status["state"] == "failed" and job.adopted:  # a re-run retries failed batches
                self._resend(task_id, job, f"failed: {status['error']}")
                continue
            if status["state"] == "failed":
                del self.pending[task_id]
                self.checkpoint.drop(task_id)
                self._fail(job.sent, f"{job.batch.where}: job {task_id} failed: {status['error']}")
                continue
            del self.pending[task_id]
            self.tally.stored += job.sent  # embedded now, or found unchanged: held either way
            self.tally.embedded += status.get("embedded") or 0
            self.tally.unchanged += status.get("unchanged") or 0
            self.checkpoint.add_truncated(status.get("truncated") or [])
            self.checkpoint.mark(job.batch.index, task_id)
        self.tally.in_flight_done = sum(job.done for job in self.pending.values())
        self.on_change(self.tally)
        if not finished:
            self.sleep(POLL_S)

    def _resend(self, task_id: str, job: InFlight, why: str) -> None:
        del self.pending[task_id]
        self.checkpoint.drop(task_id)
        self.notify(f"{job.batch.where}: job {task_id}: {why}; sending the batch again")
        self._submit(job.batch, job.documents)


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt at the end of the block instead of inside it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _reason(response: httpx.Response) -> str:
    try:
        return f"{response.status_code} {response.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
