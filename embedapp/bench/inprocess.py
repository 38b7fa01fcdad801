"""Benchmarks against a running service: commands that print figures, never tests."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table


@dataclass
class Latencies:
    """Seconds per call of one kind of probe."""

    samples: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)


def _timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    response.raise_for_status()
    return time.perf_counter() - started


def wait_finished(client: httpx.Client, task_ids: list[str], timeout_s: float) -> dict[str, str]:
    """Each job's final state (stored or failed), polled until all have one."""
    deadline = time.monotonic() + timeout_s
    finished = {}
    for task_id in task_ids:
        while (state := client.get(f"/v1/tasks/{task_id}").json()["state"]) not in (
            "stored",
            "failed",
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"bulk job {task_id} still {state} after {timeout_s:g} s")
            time.sleep(0.2)
        finished[task_id] = state
    return finished


def lanes(
    url: str, documents: list[dict[str, str]], *, probes: int, batch: int, console: Console
) -> dict[str, Any]:
    """Interactive latency idle and under a bulk ingest of `documents`, side by side."""
    collection = f"bench-lanes-{int(time.time())}"
    with httpx.Client(base_url=url, timeout=300) as client:
        model = client.get("/v1/models").json()["data"][0]["id"]
        seed = (
            client.post(
                f"/v1/collections/{collection}/documents", json={"documents": documents[:batch]}
            )
            .raise_for_status()
            .json()
        )
        wait_finished(client, [seed["task_id"]], 600)
        kinds: dict[str, Callable[[int], httpx.Response]] = {
            "embeddings": lambda i: client.post(
                "/v1/embeddings",
                json={
                    "model": model,
                    "input": f"probe number {i}: what changed in the billing flow?",
                },
            ),
            "search": lambda i: client.post(
                f"/v1/collections/{collection}/search",
                json={"query": f"probe number {i}: latency of the checkout service", "top_k": 10},
            ),
        }

        def measure() -> dict[str, Latencies]:
            found = {kind: Latencies() for kind in kinds}
            for i in range(probes):
                for kind, call in kinds.items():
                    found[kind].samples.append(_timed(lambda c=call, n=i: c(n)))
            return found

        console.print(f"idle: {probes} probes of each kind")
        idle = measure()
        bulk = documents[batch:]
        console.print(f"under load: ingesting {len(bulk)} documents in jobs of {batch}")
        task_ids: list[str] = []

        def feed() -> None:
            with httpx.Client(base_url=url, timeout=300) as feeder:
                for start in range(0, len(bulk), batch):
                    task_ids.append(
                        feeder.post(
                            f"/v1/collections/{collection}/documents",
                            json={"documents": bulk[start : start + batch]},
                        )
                        .raise_for_status()
                        .json()["task_id"]
                    )

        started = time.monotonic()
        feeder = threading.Thread(target=feed)
        feeder.start()
        while not task_ids or client.get(f"/v1/tasks/{task_ids[0]}").json()["state"] == "queued":
            time.sleep(0.05)
        loaded = measure()
        feeder.join()
        busy_at_end = client.get(f"/v1/tasks/{task_ids[-1]}").json()["state"] != "stored"
        wait_finished(client, task_ids, 3600)
        ingest_s = time.monotonic() - started
        client.delete(f"/v1/collections/{collection}")

    result = {
        "documents": len(bulk),
        "probes": probes,
        "ingest_docs_per_s": len(bulk) / ingest_s,
        "bulk_still_running_after_probes": busy_at_end,
        "kinds": {
            kind: {
                "idle_p50_ms": idle[kind].p50 * 1e3,
                "idle_p99_ms": idle[kind].p99 * 1e3,
                "load_p50_ms": loaded[kind].p50 * 1e3,
                "load_p99_ms": loaded[kind].p99 * 1e3,
                "p50_ratio": loaded[kind].p50 / idle[kind].p50,
                "p99_ratio": loaded[kind].p99 / idle[kind].p99,
            }
            for kind in kinds
        },
    }
    table = Table(
        title=f"interactive lane: idle vs under bulk ingest ({len(bulk)} documents, "
        f"{result['ingest_docs_per_s']:.0f} docs/s)"
    )
    for column in (
        "call",
        "idle p50 ms",
        "idle p99 ms",
        "load p50 ms",
        "load p99 ms",
        "p50 load/idle",
        "p99 load/idle",
    ):
        table.add_column(column, justify="right")
    for kind, row in result["kinds"].items():
        table.add_row(
            kind,
            *(
                f"{row[k]:.1f}"
                for k in ("idle_p50_ms", "idle_p99_ms", "load_p50_ms", "load_p99_ms")
            ),
            f"{row['p50_ratio']:.2f}×",
            f"{row['p99_ratio']:.2f}×",
        )
    console.print(table)
    if not busy_at_end:
        console.print(
            "[yellow]the bulk ingest finished before the probes did: "
            "use more documents for a fair figure[/]"
        )
    return result


def post_until_accepted(client: httpx.Client, collection: str, docs: list[dict[str, str]]) -> str:
    """POST a job, waiting out 429s and 503s (a broker away) as their Retry-After says."""
    while True:
        response = client.post(f"/v1/collections/{collection}/documents", json={"documents": docs})
        if response.status_code not in (429, 503):
            return response.raise_for_status().json()["task_id"]
        time.sleep(float(response.headers.get("Retry-After", "1")))


def ingest_all(
    client: httpx.Client, collection: str, documents: list[dict[str, str]], batch: int
) -> dict[str, str]:
    """POST every document in jobs of `batch` (waiting out 429s); each job's final state."""
    task_ids = [
        post_until_accepted(client, collection, documents[i : i + batch])
        for i in range(0, len(documents), batch)
    ]
    return wait_finished(client, task_ids, 3600)


ENCODE_BS32 = "SentenceTransformer.encode(batch_size=32)"
ENCODE_BS32_KERNELS = f"{ENCODE_BS32} on embedapp's CPU kernels"
BATCHER = "embedapp batcher, in-process"
# One-text callers can share a batch with at most CALLER_BATCH - 1 others: this in-process
# figure is the most that many concurrent callers could ever get from the model.
CALLER_BATCH = 64
BATCHER_CALLERS = f"embedapp batcher, in-process, {CALLER_BATCH} texts per call"


def batcher_in(dtype: str, backend: str = "torch") -> str:
    """The row of embedapp's batcher in another precision than float32, or on another
    backend than torch."""
    return f"{BATCHER}, {dtype if backend == 'torch' else f'{backend} {dtype}'}"


def in_process(
    texts: list[str], console: Console, *, precisions: tuple[tuple[str, str], ...] = ()
) -> dict[str, float]:
    """docs/s of the library's own encode, as installed and on the kernels embedapp picked,
    and of embedapp's batcher (all texts at once, and CALLER_BATCH at a time): torch float32,
    the same model and threads (all cores); then the batcher in each (backend, dtype) of
    `precisions` this machine runs (`auto`: the one a worker child would pick here)."""
    from sentence_transformers import SentenceTransformer

    from embedapp import model
    from embedapp.settings import Settings

    settings = Settings(backend="torch", dtype="float32", device="cpu")
    embedder = model.load_embedder(settings)  # first: it sets up offline loading
    library = SentenceTransformer(settings.model_source, device="cpu")
    library.encode(texts[:64])
    embedder.encode(texts[:64])
    figures = {}
    for name, run in (
        (ENCODE_BS32, lambda: library.encode(texts, batch_size=32)),
        (ENCODE_BS32_KERNELS, lambda: embedder.model.encode(texts, batch_size=32)),
        (BATCHER, lambda: embedder.encode(texts)),
        (
            BATCHER_CALLERS,
            lambda: [
                embedder.encode(texts[i : i + CALLER_BATCH])
                for i in range(0, len(texts), CALLER_BATCH)
            ],
        ),
    ):
        started = time.perf_counter()
        run()
        figures[name] = len(texts) / (time.perf_counter() - started)
        console.print(f"in-process {name}: {figures[name]:.0f} docs/s")
    for backend, dtype in precisions:
        lower = model.load_embedder(Settings(backend=backend, dtype=dtype, device="cpu"))
        if dtype != "auto" and lower.precision_name != dtype:
            console.print(f"in-process batcher in {dtype}: not on this machine, skipped")
            continue
        shown = f"auto ({lower.precision_name})" if dtype == "auto" else dtype
        name = batcher_in(shown, backend)
        lower.encode(texts[:64])
        started = time.perf_counter()
        lower.encode(texts)
        figures[name] = len(texts) / (time.perf_counter() - started)
        console.print(f"in-process {name}: {figures[name]:.0f} docs/s")
    return figures


def throughput(
    url: str, documents: list[dict[str, str]], *, batch: int, console: Console
) -> dict[str, Any]:
    """End-to-end ingest docs/s against in-process references, on the same corpus."""
    figures = in_process([d["text"] for d in documents], console)
    collection = f"bench-throughput-{int(time.time())}"
    with httpx.Client(base_url=url, timeout=300) as client:
        started = time.monotonic()
        ingest_all(client, collection, documents, batch)
        figures["end_to_end"] = len(documents) / (time.monotonic() - started)
        client.delete(f"/v1/collections/{collection}")
    result = {
        "documents": len(documents),
        "docs_per_s": figures,
        "end_to_end_vs_encode_bs32": figures["end_to_end"] / figures[ENCODE_BS32],
        "end_to_end_vs_batcher": figures["end_to_end"] / figures[BATCHER],
    }
    table = Table(title=f"ingest throughput, {len(documents)} documents")
    table.add_column("way")
    table.add_column("docs/s", justify="right")
    table.add_column("vs encode(batch_size=32)", justify="right")
    for name, rate in figures.items():
        table.add_row(name, f"{rate:.0f}", f"{rate / figures[ENCODE_BS32]:.2f}×")
    console.print(table)
    return result
