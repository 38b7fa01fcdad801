"""Feed a file of documents to the gateway: batched, bounded in flight, resumable.

Progress is kept in a checkpoint file: a batch is marked done once its job is stored, and a
re-run skips done batches without sending them. Batches that were in flight when a run
was interrupted are sent again; the service finds them unchanged (content hashes), so they
are not embedded twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import httpx

from embedapp.cli.records import Record, Rejected

# Transient trouble (503, a gateway restarting) is retried with backoff this many times.
MAX_ATTEMPTS = 8
POLL_S = 0.5


class GatewayUnreachable(Exception):
    """The gateway did not answer through every retry: stop, and resume later."""


@dataclass
class Tally:
    """What a run did, in documents."""

    submitted: int = 0
    stored: int = 0
    failed: int = 0
    skipped: int = 0  # in batches a previous run stored
    embedded: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

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


class Checkpoint:
    """Which batches of one file, collection and batch size are stored."""

    def __init__(self, directory: Path, source: Path, *, key: dict[str, Any]) -> None:
        stat = source.stat()
        # A changed file starts over (the service's dedup still skips what it holds).
        self.identity = {
            **key,
            "source": str(source.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()
        self.path = directory / f"{digest[:24]}.json"
        self.done: set[int] = set()
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved.get("identity") == self.identity:
                self.done = set(saved["done"])

    def mark(self, index: int) -> None:
        self.done.add(index)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"identity": self.identity, "done": sorted(self.done)}))
        os.replace(temporary, self.path)  # never a half-written checkpoint

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Ingest:
    """Sends batches to the gateway, at most `window` jobs in flight, and follows them."""

    def __init__(
        self,
        client: httpx.Client,
        collection: str,
        checkpoint: Checkpoint,
        *,
        window: int = 4,
        on_change: Callable[[Tally], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.collection = collection
        self.checkpoint = checkpoint
        self.window = window
        self.on_change = on_change
        self.sleep = sleep
        self.tally = Tally()
        self.pending: dict[str, tuple[Batch, int]] = {}  # task id: batch, documents sent

    def run(self, batches: Iterable[Batch]) -> Tally:
        for batch in batches:
            if batch.index in self.checkpoint.done:
                self.tally.skipped += len(batch.records)
                self.on_change(self.tally)
                continue
            while len(self.pending) >= self.window:
                self._follow()
            self._submit(batch)
        while self.pending:
            self._follow()
        return self.tally

    def _submit(self, batch: Batch) -> None:
        documents, seen = [], {}
        for record in batch.records:
            if isinstance(record, Rejected):
                self.tally.fail(1, f"line {record.line}: {record.reason}")
            elif record.id in seen:
                self.tally.fail(
                    1, f"line {record.line}: id {record.id!r} repeats line {seen[record.id]}"
                )
            else:
                seen[record.id] = record.line
                documents.append(
                    {"id": record.id, "text": record.text, "metadata": record.metadata}
                )
        if not documents:
            self.checkpoint.mark(batch.index)
            return
        response = self._post({"documents": documents})
        if response is None:  # every later batch would wait out the same retries
            raise GatewayUnreachable(f"the gateway at {self.client.base_url} does not answer")
        if response.status_code != 202:
            self.tally.fail(len(documents), f"{batch.where}: {_reason(response)}")
        else:
            self.pending[response.json()["task_id"]] = (batch, len(documents))
            self.tally.submitted += len(documents)
        self.on_change(self.tally)

    def _post(self, body: dict[str, Any]) -> httpx.Response | None:
        """POST a batch; wait out 429s (as told by Retry-After) and retry transient trouble."""
        url = f"/v1/collections/{self.collection}/documents"
        attempt = 0
        while True:
            try:
                response = self.client.post(url, json=body)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 429:
                self.sleep(float(response.headers.get("Retry-After", "1")))
                continue  # the queue is full, not broken: wait as long as it takes
            transient = response is None or response.status_code in (502, 503, 504)
            attempt += 1
            if not transient or attempt >= MAX_ATTEMPTS:
                return response
            self.sleep(min(30.0, 0.5 * 2**attempt))

    def _follow(self) -> None:
        """Poll the jobs in flight; account for the finished ones."""
        finished = 0
        for task_id, (batch, sent) in list(self.pending.items()):
            try:
                response = self.client.get(f"/v1/tasks/{task_id}")
            except httpx.TransportError:
                continue
            if response.status_code != 200:
                continue  # Redis away (503): ask again later; the job goes on regardless
            status = response.json()
            if status["state"] not in ("stored", "failed"):
                continue
            del self.pending[task_id]
            finished += 1
            if status["state"] == "failed":
                self.tally.fail(sent, f"{batch.where}: job {task_id} failed: {status['error']}")
                continue
            self.tally.stored += sent  # embedded now, or found unchanged: held either way
            self.tally.embedded += status.get("embedded") or 0
            self.tally.unchanged += status.get("unchanged") or 0
            self.checkpoint.mark(batch.index)
        self.on_change(self.tally)
        if not finished:
            self.sleep(POLL_S)


def _reason(response: httpx.Response) -> str:
    try:
        return f"{response.status_code} {response.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
