"""`embedapp bench`: every speed figure in one run on one machine, side by side.

In-process references (the library's own `encode(batch_size=32)` and embedapp's batcher),
the older design (benchmarks/old_design.py), embedapp end to end for a sweep of worker
settings and for each backend, 64 concurrent one-text /v1/embeddings callers, the quality
of each backend against torch float32, and the embed children's memory. A command that
prints figures, never a test.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from celeryconfig import BULK_QUEUE, STORE_QUEUE
from embedapp.bench import BATCHER, ENCODE_BS32, in_process, ingest_all
from embedapp.broker import queue_stats
from embedapp.settings import Settings
from embedapp.supervise import Child, Supervisor

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 300
FP32 = ("torch", "float32")


@dataclass(frozen=True)
class Config:
    """One way of running the embed workers."""

    concurrency: int = 2
    prefetch: int = 1
    max_batch_tokens: int = 2048
    backend: str = "torch"
    dtype: str = "float32"

    @property
    def label(self) -> str:
        precision = self.backend if self.dtype == "float32" else f"{self.backend}-{self.dtype}"
        return f"{precision} c{self.concurrency} p{self.prefetch} t{self.max_batch_tokens}"

    def env(self) -> dict[str, str]:
        return {
            "EMBEDAPP_WORKER_PREFETCH_MULTIPLIER": str(self.prefetch),
            "EMBEDAPP_MAX_BATCH_TOKENS": str(self.max_batch_tokens),
            "EMBEDAPP_BACKEND": self.backend,
            "EMBEDAPP_DTYPE": self.dtype,
        }


@dataclass
class Row:
    """One measured way of embedding the corpus."""

    name: str
    kind: str
    docs_per_s: float
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += map(int, children)
        todo += map(int, children)
    return found


def _rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


class RssSampler:
    """The largest resident memory any process under `root` reaches while running."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for pid in _descendants(self.root):
                self.peak = max(self.peak, _rss_mib(pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class Stack:
    """A private embedapp for one configuration: store, bulk and interactive workers, and
    a gateway on a port of its own; Flower and metrics are left out (they would only add
    noise)."""

    def __init__(self, config: Config, workdir: Path) -> None:
        self.config = config
        slug = config.label.replace(" ", "_")
        self.log = workdir / f"{slug}.log"
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **config.env(),
            "EMBEDAPP_DATA_DIR": str(workdir / slug),
            "EMBEDAPP_GATEWAY_PORT": str(port),
            "EMBEDAPP_WORKER_METRICS_PORT": "0",
            "EMBEDAPP_LOG_LEVEL": "INFO",
        }
        embedapp = [sys.executable, "-m", "embedapp"]
        self.bulk = Child(
            "bulk worker",
            [*embedapp, "worker", "--lane", "bulk", "-c", str(config.concurrency)],
            env=env,
        )
        self.supervisor = Supervisor(
            [
                Child("store worker", [*embedapp, "store-worker"], env=env),
                self.bulk,
                Child(
                    "interactive worker",
                    [*embedapp, "worker", "--lane", "interactive", "-c", "1"],
                    env=env,
                ),
                Child("gateway", [*embedapp, "gateway"], env=env),
            ],
            console=Console(quiet=True),
        )

    def __enter__(self) -> Stack:
        with self.log.open("wb") as sink:
            self.supervisor.start(output=sink.fileno())
        try:
            self._wait_ready()
        except BaseException:
            self.supervisor.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.supervisor.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        wanted = (self.config.concurrency, 1)
        while time.monotonic() < deadline:
            log = self.log.read_text(errors="replace")
            loaded = (log.count("serves embed.bulk"), log.count("serves embed.interactive"))
            try:
                ready = httpx.get(f"{self.url}/ready", timeout=5).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and loaded == wanted:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.config.label} did not start; see {self.log}")

    def ingest(self, documents: list[dict[str, str]], batch: int) -> tuple[float, float]:
        """docs/s from the first POST until every vector is stored, and the children's peak RSS."""
        collection = f"bench-{int(time.time() * 1000)}"
        assert self.bulk.process is not None
        with (
            httpx.Client(base_url=self.url, timeout=300) as client,
            RssSampler(self.bulk.process.pid) as rss,
        ):
            started = time.monotonic()
            states = ingest_all(client, collection, documents, batch)
            elapsed = time.monotonic() - started
            client.delete(f"/v1/collections/{collection}")
        failed = [t for t, s in states.items() if s != "stored"]
        if failed:
            raise RuntimeError(f"{len(failed)} ingest jobs failed under {self.config.label}")
        return len(documents) / elapsed, rss.peak

    def callers(self, texts: list[str], concurrency: int) -> float:
        """docs/s of `concurrency` clients each sending one text per /v1/embeddings call."""
        return asyncio.run(_one_text_callers(self.url, "/v1/embeddings", texts, concurrency))


async def _one_text_callers(url: str, path: str, texts: list[str], concurrency: int) -> float:
    model = Settings().model_id
    pending = iter(texts)

    async def caller(client: httpx.AsyncClient) -> None:
        for text in pending:
            body = {"model": model, "input": text} if path == "/v1/embeddings" else {"text": text}
            while (response := await client.post(path, json=body)).status_code == 429:
                await asyncio.sleep(0.01)
            response.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        started = time.monotonic()
        await asyncio.gather(*(caller(client) for _ in range(concurrency)))
        return len(texts) / (time.monotonic() - started)


@contextmanager
def old_design(workers: int, tasks: int, queue: int) -> Iterator[str]:
    """benchmarks/old_design.py under uvicorn, the way it was run; its URL."""
    port = _free_port()
    env = {
        **os.environ,
        "OLD_DESIGN_TASKS": str(tasks),
        "OLD_DESIGN_QUEUE": str(queue),
        "OLD_DESIGN_THREADS": str(max(1, len(os.sched_getaffinity(0)) // workers)),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.old_design:app", "--app-dir", str(ROOT),
         "--workers", str(workers), "--port", str(port), "--log-level", "warning"],
        env=env,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert process.poll() is None, "the old design's server exited"
            try:
                # Every worker process must have its model loaded: warm each a few times.
                for _ in range(4 * workers):
                    httpx.post(f"{url}/embed", json={"text": "warm up"}, timeout=60)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def quality(
    backends: list[tuple[str, str]], texts: list[str], queries: list[str], console: Console
) -> dict[tuple[str, str], dict[str, float]]:
    """Each backend against torch float32: cosine of every vector, recall@10 overlap of
    exact search results for the queries over the texts."""
    from embedapp.model import load_embedder

    def vectors(backend: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        settings = Settings(backend=backend, dtype=dtype, device="cpu")
        embedder = load_embedder(settings)
        found = embedder.encode(texts), embedder.encode(queries)
        del embedder
        gc.collect()
        return found

    reference_docs, reference_queries = vectors(*FP32)
    reference_top = np.argsort(-reference_queries @ reference_docs.T, axis=1)[:, :10]
    figures = {}
    for backend, dtype in backends:
        docs, found_queries = vectors(backend, dtype)
        cosines = np.sum(docs * reference_docs, axis=1)
        top = np.argsort(-found_queries @ docs.T, axis=1)[:, :10]
        overlap = np.mean(
            [len(set(a) & set(b)) / 10 for a, b in zip(top, reference_top, strict=True)]
        )
        figures[(backend, dtype)] = {
            "mean_cosine": float(cosines.mean()),
            "min_cosine": float(cosines.min()),
            "recall_at_10": float(overlap),
        }
        console.print(f"quality {backend} {dtype}: {figures[(backend, dtype)]}")
    return figures


@dataclass
class Plan:
    """What one `embedapp bench` run measures."""

    documents: list[dict[str, str]]
    queries: list[str]
    batch: int = 500
    concurrencies: tuple[int, ...] = (1, 2)
    prefetches: tuple[int, ...] = (1,)
    token_budgets: tuple[int, ...] = (2048, 4096)
    backends: tuple[tuple[str, str], ...] = (
        ("torch", "bfloat16"),
        ("onnx", "float32"),
        ("onnx-int8", "float32"),
    )
    old_design_documents: int = 1000
    old_design_workers: int = 2
    old_design_tasks: int = 4
    old_design_concurrency: int = 16
    callers: int = 64
    caller_texts: int = 1500
    quality_documents: int = 1000


def run(plan: Plan, workdir: Path, console: Console) -> dict[str, Any]:
    """Measure everything in `plan`, one thing at a time; the figures."""
    held = queue_stats(Settings().broker_url, (BULK_QUEUE, STORE_QUEUE))
    if any(consumers for _, consumers in held.values()):
        raise RuntimeError(
            "another embedapp is consuming embed.bulk or store on this broker: stop it first "
            "(it would take the benchmark's jobs and share its cores)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    texts = [d["text"] for d in plan.documents]
    rows = [Row(name, "in-process", rate) for name, rate in in_process(texts, console).items()]

    with old_design(plan.old_design_workers, plan.old_design_tasks, 64) as url:
        rate = asyncio.run(
            _one_text_callers(
                url, "/embed", texts[: plan.old_design_documents], plan.old_design_concurrency
            )
        )
    rows.append(
        Row(
            "old design (uvicorn + asyncio.Queue + M tasks, one text per request)",
            "old-design",
            rate,
            {"workers": plan.old_design_workers, "tasks": plan.old_design_tasks,
             "concurrency": plan.old_design_concurrency},
        )
    )  # fmt: skip
    console.print(f"old design: {rate:.0f} docs/s")

    default = Config()
    sweep = [
        Config(concurrency=c, prefetch=p, max_batch_tokens=t)
        for c, p, t in itertools.product(plan.concurrencies, plan.prefetches, plan.token_budgets)
    ]
    configs = list(dict.fromkeys([default, *sweep]))
    configs += [Config(backend=b, dtype=d) for b, d in plan.backends]
    for config in configs:
        console.print(f"end to end: {config.label}")
        with Stack(config, workdir) as stack:
            rate, rss = stack.ingest(plan.documents, plan.batch)
            rows.append(Row(f"embedapp end to end, {config.label}", "end-to-end", rate,
                            asdict(config), {"child_rss_mib": rss}))  # fmt: skip
            console.print(f"  {rate:.0f} docs/s, embed child peak RSS {rss:.0f} MiB")
            if config == default:
                rate = stack.callers(texts[: plan.caller_texts], plan.callers)
                rows.append(Row(f"{plan.callers} concurrent one-text /v1/embeddings callers",
                                "callers", rate, asdict(config)))  # fmt: skip
                console.print(f"  {plan.callers} callers: {rate:.0f} docs/s")

    sample = texts[: plan.quality_documents]
    figures = quality(list(plan.backends), sample, plan.queries, console)
    for row in rows:
        key = (row.config.get("backend"), row.config.get("dtype"))
        if row.kind == "end-to-end" and key in figures:
            row.extra.update(figures[key])
    return report(rows, plan, console)


def report(rows: list[Row], plan: Plan, console: Console) -> dict[str, Any]:
    """The table, the acceptance ratios, and everything as one JSON-able dict."""
    by_name = {row.name: row for row in rows}
    encode = by_name[ENCODE_BS32].docs_per_s
    batcher = by_name[BATCHER].docs_per_s
    old = next(row.docs_per_s for row in rows if row.kind == "old-design")

    def e2e(backend: str, dtype: str) -> float:
        return by_name[
            f"embedapp end to end, {Config(backend=backend, dtype=dtype).label}"
        ].docs_per_s

    fp32 = e2e(*FP32)
    ratios = {
        "end_to_end_fp32 / encode_bs32": fp32 / encode,
        "end_to_end_fp32 / batcher": fp32 / batcher,
    }
    for backend, dtype in plan.backends:
        ratios[f"end_to_end_{backend}_{dtype} / end_to_end_fp32"] = e2e(backend, dtype) / fp32
        ratios[f"end_to_end_{backend}_{dtype} / old_design"] = e2e(backend, dtype) / old
    callers = next((row.docs_per_s for row in rows if row.kind == "callers"), None)
    if callers is not None:
        ratios[f"{plan.callers}_callers / encode_bs32"] = callers / encode

    table = Table(title=f"embedapp bench: {len(plan.documents)} documents, {os.cpu_count()} cores")
    for column in ("way", "docs/s", "× encode(32)", "× old design", "quality vs fp32", "child RSS"):
        table.add_column(column, justify="left" if column == "way" else "right")
    for row in rows:
        q = row.extra
        table.add_row(
            row.name,
            f"{row.docs_per_s:.0f}",
            f"{row.docs_per_s / encode:.2f}",
            f"{row.docs_per_s / old:.2f}",
            f"cos {q['mean_cosine']:.4f}/{q['min_cosine']:.4f} r@10 {q['recall_at_10']:.3f}"
            if "mean_cosine" in q else "",
            f"{q['child_rss_mib']:.0f} MiB" if "child_rss_mib" in q else "",
        )  # fmt: skip
    console.print(table)
    ratio_table = Table(title="ratios (same run)")
    ratio_table.add_column("ratio")
    ratio_table.add_column("value", justify="right")
    for name, value in ratios.items():
        ratio_table.add_row(name, f"{value:.2f}×")
    console.print(ratio_table)
    return {
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "documents": len(plan.documents),
        "rows": [asdict(row) for row in rows],
        "ratios": ratios,
    }


def write(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """result.json and a bar chart of docs/s (result.png) in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / "result.json", out / "result.png"
    json_path.write_text(json.dumps(result, indent=2))
    rows = result["rows"]
    colors = {"in-process": "#888888", "old-design": "#d62728", "end-to-end": "#1f77b4",
              "callers": "#2ca02c"}  # fmt: skip
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    axes.barh(
        [row["name"] for row in rows],
        [row["docs_per_s"] for row in rows],
        color=[colors.get(row["kind"], "#555555") for row in rows],
    )
    axes.invert_yaxis()
    axes.set_xlabel("documents per second (higher is better)")
    axes.set_title(
        f"embedapp bench, {result['documents']} documents, {result['machine']['cores']} cores"
    )
    figure.tight_layout()
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    return json_path, png_path
