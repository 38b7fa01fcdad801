"""Worker-side Prometheus metrics.

Prefork children each write their samples to files in a directory of the worker's own
(prometheus-client's multiprocess mode); the worker's parent serves all of them on
EMBEDAPP_WORKER_METRICS_PORT. Metrics are created on first use, in the child, once that
directory is set.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class WorkerMetrics:
    """The series every worker process records into."""

    documents_embedded: Counter
    documents_unchanged: Counter
    texts_embedded: Counter
    batch_size: Histogram
    inference_seconds: Histogram
    points_stored: Counter
    upsert_seconds: Histogram
    task_failures: Counter
    task_retries: Counter


@lru_cache(maxsize=1)
def metrics() -> WorkerMetrics:
    """The worker's metrics, created on first use (in the child that records them)."""
    from prometheus_client import Counter, Histogram

    return WorkerMetrics(
        documents_embedded=Counter(
            "embedapp_documents_embedded", "Documents of ingest jobs embedded (new or changed)"
        ),
        documents_unchanged=Counter(
            "embedapp_documents_unchanged", "Documents of ingest jobs skipped: already stored"
        ),
        texts_embedded=Counter(
            "embedapp_texts_embedded", "Texts through the model (documents, chunks, queries)"
        ),
        batch_size=Histogram(
            "embedapp_model_batch_size",
            "Texts per model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        ),
        inference_seconds=Histogram(
            "embedapp_inference_seconds",
            "Seconds per model call",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ),
        points_stored=Counter("embedapp_points_stored", "Points written to Qdrant"),
        upsert_seconds=Histogram(
            "embedapp_store_upsert_seconds", "Seconds per ingest job's write to Qdrant"
        ),
        task_failures=Counter("embedapp_task_failures", "Tasks that failed for good", ["task"]),
        task_retries=Counter("embedapp_task_retries", "Task retries", ["task"]),
    )


def record_batch(texts: int, seconds: float) -> None:
    """One model call: how many texts it took and how long."""
    recorded = metrics()
    recorded.inference_seconds.observe(seconds)
    recorded.batch_size.observe(texts)
    recorded.texts_embedded.inc(texts)


def use_private_directory() -> str:
    """In the worker's parent, before any child forks: a fresh directory for the samples."""
    from prometheus_client import values

    directory = tempfile.mkdtemp(prefix="embedapp-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    # The `celery` command has imported prometheus_client already (Flower's plugin does),
    # so its value class was picked without the directory: pick it again.
    values.ValueClass = values.get_value_class()
    return directory


def serve(port: int, host: str) -> None:
    """Serve every child's samples from the worker's parent (a thread of prometheus-client)."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:  # metrics are not worth refusing to embed over
        log.warning("worker metrics not served: port %d: %s", port, exc)
        return
    log.info("worker metrics on http://%s:%d/metrics", host, port)


def remove_directory() -> None:
    """At worker shutdown: the samples die with the worker (Prometheus sees a restart)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and os.path.basename(directory).startswith("embedapp-metrics-"):
        shutil.rmtree(directory, ignore_errors=True)
