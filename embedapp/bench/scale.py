"""`embedapp bench scale`: ingest and search end to end into a collection that already holds
many points, beside the same ingest into an empty one, on one private stack."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console

from embedapp.bench.inprocess import ingest_all
from embedapp.bench.store import WRITE_BATCH, Corpus, bench_point
from embedapp.bench.targets import Config, Stack
from embedapp.settings import Settings
from embedapp.store.edge import EdgeStore

BIG = "big"
PROBES = 200


def prefill(data_dir: Path, points: int, console: Console) -> float:
    """Write `points` clustered vectors into collection BIG of the stack's store, and index
    them as the store worker would; seconds taken."""
    settings = Settings(data_dir=data_dir)
    store = EdgeStore(settings.embedded_qdrant_path, index_after_points=0)
    store.ensure_collection(BIG, dimension=384, model=settings.model_id)
    started, data = time.monotonic(), Corpus()
    for start in range(0, points, WRITE_BATCH):
        batch = data.batch(start, min(WRITE_BATCH, points - start))
        store.upsert(
            BIG,
            [
                bench_point(start + i, v, collection=BIG, model=settings.model_id)
                for i, v in enumerate(batch)
            ],
        )
    console.print(f"prefilled {points:,} points in {time.monotonic() - started:.0f} s; indexing…")
    store.build_index(BIG)
    while store.indexing(BIG):
        time.sleep(1)
        store.count(BIG)  # swaps the index in once it is built
    store.close()
    return time.monotonic() - started


def _search_latencies(url: str, queries: list[str], stop: threading.Event | None) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for query in queries:
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            response = client.post(f"/v1/collections/{BIG}/search", json={"query": query})
            response.raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def _p(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 1),
        "p99_ms": round(float(np.percentile(times, 99)), 1),
    }


def run(
    documents: list[dict[str, str]],
    queries: list[str],
    *,
    points: int,
    batch: int,
    workdir: Path,
    console: Console,
) -> dict[str, Any]:
    """Figures for ingest into an empty collection and into one of `points` points."""
    config = Config()
    data_dir = workdir / config.label.replace(" ", "_")
    result: dict[str, Any] = {"points": points, "documents": len(documents)}
    result["prefill_s"] = round(prefill(data_dir, points, console))
    with Stack(config, workdir) as stack:
        result["search_idle"] = _p(_search_latencies(stack.url, queries, None))
        with httpx.Client(base_url=stack.url, timeout=300) as client:

            def rate(collection: str, prefix: str) -> int:
                started = time.monotonic()
                renamed = [{**d, "id": f"{prefix}-{d['id']}"} for d in documents]
                ingest_all(client, collection, renamed, batch)
                return round(len(documents) / (time.monotonic() - started))

            # Both ingests alone (searches would take cores from whichever they ran beside).
            result["ingest_empty_docs_per_s"] = rate("empty", "a")
            result["ingest_big_docs_per_s"] = rate(BIG, "a")
            stop, during = threading.Event(), []
            prober = threading.Thread(
                target=lambda: during.extend(_search_latencies(stack.url, queries * 100, stop))
            )
            prober.start()
            rate(BIG, "b")
            stop.set()
            prober.join()
        result["search_during_ingest"] = _p(during)
    result["ingest_big_vs_empty"] = round(
        result["ingest_big_docs_per_s"] / result["ingest_empty_docs_per_s"], 2
    )
    return result
