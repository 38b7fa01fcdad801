"""HNSW index builds for Qdrant Edge shards, in a process of their own.

Edge builds indexes in `optimize()`, which holds the GIL until it returns: run in the store
worker it would stop every search and write for as long as the build takes. So a build works
on a copy of the flushed shard in a child process (`python -m embedapp.store.indexer COPY`, at
low CPU priority); when it is done, the store replays the writes it made meanwhile onto the
copy and puts the copy in the shard's place: one short pause instead of a long one.

Every step keeps one complete shard on disk: a crash at any point leaves either the old shard
or the indexed one, and `recover` tidies up before the shard is opened again.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from qdrant_edge import EdgeShard, UpdateOperation

log = logging.getLogger(__name__)

BUILDING = ".building"
OLD = ".old"
DONE = "INDEXED"


@dataclass
class _Build:
    process: subprocess.Popen[bytes]
    copy: Path
    started: float = field(default_factory=time.monotonic)
    # Writes made to the live shard since the copy, replayed onto it before the swap.
    writes: list[UpdateOperation] = field(default_factory=list)


def _sibling(shard: Path, suffix: str) -> Path:
    return shard.with_name(shard.name + suffix)


class IndexBuilds:
    """The index builds under way, one per collection at most."""

    def __init__(self, *, index_after_points: int) -> None:
        # A build starts once this many points are searched without an index; 0: never.
        self.index_after_points = index_after_points
        self._running: dict[str, _Build] = {}
        # Points each collection held when its last build started: the next waits for as
        # many new ones, so a build that could not index everything is not restarted at once.
        self._built_at: dict[str, int] = {}

    @staticmethod
    def recover(shard: Path) -> None:
        """Before a shard is opened: undo a swap a crash cut short, drop unfinished builds."""
        old = _sibling(shard, OLD)
        if not shard.exists() and old.exists():
            old.rename(shard)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(_sibling(shard, BUILDING), ignore_errors=True)

    def maybe_start(self, name: str, shard: EdgeShard, path: Path, *, now: bool = False) -> None:
        """Start a build of a flushed shard that holds enough unindexed points (`now`: any)."""
        if name in self._running or (self.index_after_points <= 0 and not now):
            return
        info = shard.info()
        unindexed = info.points_count - info.indexed_vectors_count
        grown = info.points_count - self._built_at.get(name, 0)
        if min(unindexed, grown) < self.index_after_points and not now:
            return
        self._built_at[name] = info.points_count
        copy = _sibling(path, BUILDING)
        shutil.rmtree(copy, ignore_errors=True)
        # The WAL preallocates its next files in the background: they come and go mid-copy.
        shutil.copytree(path, copy, ignore=shutil.ignore_patterns("tmp-open-*"))
        process = subprocess.Popen([sys.executable, "-m", __name__, str(copy)])
        self._running[name] = _Build(process, copy)
        log.info("index build of %r started: %d points unindexed", name, unindexed)

    def record(self, name: str, operation: UpdateOperation) -> None:
        """A write to the live shard, to be replayed onto the copy being indexed."""
        if build := self._running.get(name):
            build.writes.append(operation)

    def running(self, name: str) -> bool:
        """Whether a build of this collection is under way or waiting to be swapped in."""
        return name in self._running

    def ready(self, name: str) -> bool:
        """Whether a build of this collection has finished (a failed one is dropped)."""
        build = self._running.get(name)
        if build is None or build.process.poll() is None:
            return False
        if build.process.returncode != 0 or not (build.copy / DONE).exists():
            log.warning("index build of %r failed (exit %s)", name, build.process.returncode)
            self.cancel(name)
            return False
        return True

    def swap_in(self, name: str, path: Path) -> EdgeShard:
        """The indexed copy, with the writes made meanwhile, in place of the (closed) shard."""
        build = self._running.pop(name)
        paused = time.monotonic()
        (build.copy / DONE).unlink()
        copy = EdgeShard.load(str(build.copy))
        for operation in build.writes:
            copy.update(operation)
        copy.flush()
        copy.close()
        old = _sibling(path, OLD)
        path.rename(old)
        build.copy.rename(path)
        shutil.rmtree(old)
        shard = EdgeShard.load(str(path))
        log.info(
            "index of %r swapped in: built in %.1f s, %d writes replayed, paused %.2f s",
            name,
            paused - build.started,
            len(build.writes),
            time.monotonic() - paused,
        )
        return shard

    def cancel(self, name: str) -> None:
        """Stop a build and drop its copy."""
        build = self._running.pop(name, None)
        if build is not None:
            if build.process.poll() is None:
                build.process.kill()
                build.process.wait()
            shutil.rmtree(build.copy, ignore_errors=True)

    def cancel_all(self) -> None:
        """Stop every build (the store closes)."""
        for name in list(self._running):
            self.cancel(name)


def build(path: str) -> None:
    """Index a shard copy in this process, and mark it done."""
    os.nice(10)  # the embed children and the live store come first
    shard = EdgeShard.load(path)
    shard.optimize()
    shard.flush()
    shard.close()
    (Path(path) / DONE).touch()


if __name__ == "__main__":
    build(sys.argv[1])
