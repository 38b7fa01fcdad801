"""Where a run of `embedapp ingest` got to, kept on disk so that a re-run resumes there."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


class Checkpoint:
    """Which batches of one file, collection and batch size are stored, which are in flight
    (by job id), and which document ids were cut to the model's window."""

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
        self.truncated_path = directory / f"truncated-{key.get('collection', '')}-{digest[:8]}.txt"
        self.done: set[int] = set()
        self.pending: dict[str, int] = {}  # job id: batch index
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved.get("identity") == self.identity:
                self.done = set(saved["done"])
                self.pending = saved.get("pending", {})

    def clear(self) -> None:
        """Start over: forget every batch, and the truncated ids found so far."""
        self.done.clear()
        self.pending.clear()
        self.truncated_path.unlink(missing_ok=True)

    def sent(self, index: int, task_id: str) -> None:
        self.pending[task_id] = index
        self._save()

    def mark(self, index: int, task_id: str | None = None) -> None:
        self.done.add(index)
        self.pending.pop(task_id or "", None)
        self._save()

    def drop(self, task_id: str) -> None:
        self.pending.pop(task_id, None)
        self._save()

    def add_truncated(self, ids: list[str]) -> None:
        if ids:
            self.truncated_path.parent.mkdir(parents=True, exist_ok=True)
            with self.truncated_path.open("a") as out:
                out.writelines(f"{doc_id}\n" for doc_id in ids)

    def truncated_ids(self) -> list[str]:
        """Every id cut so far, by this run or an earlier one, once each."""
        if not self.truncated_path.exists():
            return []
        return list(dict.fromkeys(self.truncated_path.read_text().splitlines()))

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {"identity": self.identity, "done": sorted(self.done), "pending": self.pending}
            )
        )
        os.replace(temporary, self.path)  # never a half-written checkpoint

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
