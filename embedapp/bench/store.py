"""`embedapp bench store`: the vector store alone, each engine in a process of its own.

Writes N clustered 384-d vectors with payloads through embedapp's own VectorStore (the code
the store worker runs), then measures searches unfiltered and filtered, before, during and
after the HNSW index build, recall@10 against exact search, memory and reopening.
`python -m embedapp.bench.store ENGINE POINTS FOLDER` prints one engine's JSON object.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embedapp import filters
from embedapp.settings import Settings
from embedapp.store import Point, VectorStore
from embedapp.store.edge import EdgeStore
from embedapp.store.identity import point_id

DIMENSION = 384
CLUSTERS = 100
GROUPS = 50  # a keyword filter on one group keeps 2% of the points
QUERIES = 200
# Each phase of queries stops after this long (local mode's filtered search takes seconds).
PHASE_S = 30.0
WRITE_BATCH = 500  # one ingest job's points per store call
COLLECTION = "bench"
HNSW_EF = Settings().search_hnsw_ef  # as the store worker searches


class Corpus:
    """Unit vectors around random centres, like the embeddings of a corpus of topics, made a
    batch at a time (the bench process holds no copy of the store's vectors)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.centres = rng.standard_normal((CLUSTERS, DIMENSION)).astype(np.float32)

    def batch(self, start: int, size: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, start))
        vectors = self.centres[rng.integers(0, CLUSTERS, size)]
        vectors += 0.35 * rng.standard_normal((size, DIMENSION)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class ExactTop10:
    """The true 10 nearest points of each query, kept up to date as batches are written."""

    def __init__(self, queries: np.ndarray) -> None:
        self.queries = queries
        self.scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
        self.ids = np.zeros((len(queries), 10), dtype=np.int64)

    def add(self, start: int, vectors: np.ndarray) -> None:
        scores = np.concatenate([self.scores, self.queries @ vectors.T], axis=1)
        ids = np.concatenate(
            [
                self.ids,
                np.broadcast_to(np.arange(start, start + len(vectors)), scores[:, 10:].shape),
            ],
            axis=1,
        )
        best = np.argsort(-scores, axis=1)[:, :10]
        self.scores = np.take_along_axis(scores, best, axis=1)
        self.ids = np.take_along_axis(ids, best, axis=1)


def bench_point(
    index: int, vector: np.ndarray, *, collection: str = COLLECTION, model: str = "bench"
) -> Point:
    """A point as the store worker writes it: one document per point, grouped metadata."""
    return Point(
        id=point_id(collection, str(index)),
        vector=vector.tolist(),
        payload={
            "doc_id": str(index),
            "text": f"document {index}",
            "metadata": {"group": f"g{index % GROUPS}"},
            "content_hash": str(index),
            "model": model,
        },
    )


def _latencies(run: Callable[[np.ndarray], Any], queries: np.ndarray) -> list[float]:
    times, deadline = [], time.monotonic() + PHASE_S
    for query in queries:
        started = time.perf_counter()
        run(query)
        times.append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline:
            break
    return times


def _percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _open(engine: str, folder: Path) -> VectorStore:
    if engine == "edge":
        return EdgeStore(folder, index_after_points=0)  # the bench starts the build itself
    from qdrant_client import QdrantClient

    from embedapp.store.server import ServerStore

    return ServerStore(QdrantClient(path=str(folder)), server=False)


def measure(engine: str, points: int, folder: Path) -> dict[str, Any]:
    """One engine's figures for a store of `points` points."""
    # Queries are drawn like the data (same topics, fresh noise), as a user's would be.
    data = Corpus()
    queries = data.batch(10**9, QUERIES)
    exact = ExactTop10(queries[:100])
    store = _open(engine, folder)
    store.ensure_collection(COLLECTION, dimension=DIMENSION, model="bench")
    writing = 0.0
    for start in range(0, points, WRITE_BATCH):
        batch = data.batch(start, min(WRITE_BATCH, points - start))
        exact.add(start, batch)
        wrote = time.perf_counter()
        store.upsert(COLLECTION, [bench_point(start + i, v) for i, v in enumerate(batch)])
        writing += time.perf_counter() - wrote
    result: dict[str, Any] = {"engine": engine, "points": points}
    result["write_points_per_s"] = round(points / writing)

    def search(query: np.ndarray, group: str | None = None) -> list[str]:
        where = filters.parse({"group": group} if group else {})
        hits = store.search(
            COLLECTION, query, top_k=10, where=where, with_text=False, hnsw_ef=HNSW_EF
        )
        return [hit.id for hit in hits]

    def filtered(query: np.ndarray) -> list[str]:
        return search(query, "g7")

    result["unindexed_search_p99_ms"] = _percentiles(_latencies(search, queries))[1]
    if isinstance(store, EdgeStore):
        started = time.perf_counter()
        store.build_index(COLLECTION)
        during: list[float] = []
        while store.indexing(COLLECTION):
            during += _latencies(search, queries[:20])
        result["index_build_s"] = round(time.perf_counter() - started, 1)
        result["search_p99_during_index_ms"] = _percentiles(during)[1] if during else None
        # The slowest of them waited for the swap: the one pause a build costs.
        result["search_max_during_index_ms"] = max(during) if during else None
    result["search_p50_ms"], result["search_p99_ms"] = _percentiles(_latencies(search, queries))
    result["filtered_p50_ms"], result["filtered_p99_ms"] = _percentiles(
        _latencies(filtered, queries)
    )
    found = [set(search(q)) for q in queries[:100]]
    result["recall_at_10"] = float(
        np.mean(
            [len(f & {str(i) for i in row}) / 10 for f, row in zip(found, exact.ids, strict=True)]
        )
    )
    result["rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    store.close()
    started = time.perf_counter()
    store = _open(engine, folder)
    search(queries[0])
    result["reopen_s"] = round(time.perf_counter() - started, 2)
    store.close()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}


def each_engine(points: int, local_points: int) -> Iterator[dict[str, Any]]:
    """Edge with `points`, then local mode with at most `local_points` (0: skipped), each in
    a process and a folder of its own: one engine's memory never counts against the other."""
    for engine, count in (("edge", points), ("local", min(points, local_points))):
        if count <= 0:
            continue
        with tempfile.TemporaryDirectory(prefix=f"embedapp-bench-{engine}-") as folder:
            found = subprocess.run(
                [sys.executable, "-m", "embedapp.bench.store", engine, str(count), folder],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
        yield json.loads(found.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))), flush=True)
