"""What `embedapp bench` measures: private embedapp stacks, one per worker configuration,
and concurrent callers; with the memory of the embed children."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from embedapp.bench import cpu
from embedapp.bench.inprocess import ingest_all
from embedapp.bench.peers import READY_TIMEOUT_S, free_port
from embedapp.settings import Settings
from embedapp.supervise import Child, Supervisor


def backend_named(name: str) -> tuple[str, str]:
    """`torch-bfloat16` → (torch, bfloat16), likewise `openvino-…`; `onnx-int8` →
    (onnx-int8, float32)."""
    runtime, _, dtype = name.partition("-")
    return (runtime, dtype) if runtime in ("torch", "openvino") and dtype else (name, "float32")


@dataclass(frozen=True)
class Config:
    """One way of running the embed workers."""

    concurrency: int = 2
    prefetch: int = 1
    max_batch_tokens: int = 2048
    backend: str = "torch"
    dtype: str = "float32"
    cpu_matmul: str = "auto"

    @property
    def label(self) -> str:
        precision = self.backend if self.dtype == "float32" else f"{self.backend}-{self.dtype}"
        kernel = "" if self.cpu_matmul == "auto" else f" {self.cpu_matmul} matmul"
        return f"{precision}{kernel} c{self.concurrency} p{self.prefetch} t{self.max_batch_tokens}"

    def env(self) -> dict[str, str]:
        return {
            # Both lanes' children, and the gateway's micro-batch slots (one per child).
            "EMBEDAPP_WORKER_CONCURRENCY": str(self.concurrency),
            "EMBEDAPP_WORKER_PREFETCH_MULTIPLIER": str(self.prefetch),
            "EMBEDAPP_MAX_BATCH_TOKENS": str(self.max_batch_tokens),
            "EMBEDAPP_BACKEND": self.backend,
            "EMBEDAPP_DTYPE": self.dtype,
            "EMBEDAPP_CPU_MATMUL": self.cpu_matmul,
        }


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
            for pid in cpu.descendants(self.root):
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

    def __init__(
        self, config: Config, workdir: Path, extra_models: dict[str, str] | None = None
    ) -> None:
        """`extra_models`: names and sources of models served beside the default one, each
        with a worker pair of its own."""
        self.config = config
        self.models = 1 + len(extra_models or {})
        slug = config.label.replace(" ", "_")
        self.log = workdir / f"{slug}.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **config.env(),
            "EMBEDAPP_DATA_DIR": str(workdir / slug),
            "EMBEDAPP_GATEWAY_PORT": str(port),
            "EMBEDAPP_WORKER_METRICS_PORT": "0",
            "EMBEDAPP_LOG_LEVEL": "INFO",
        }
        if extra_models:
            served = [Settings().model_id, *(f"{n}={s}" for n, s in extra_models.items())]
            env["EMBEDAPP_MODELS"] = ",".join(served)
        embedapp = [sys.executable, "-m", "embedapp"]
        self.bulk = Child("bulk worker", [*embedapp, "worker", "--lane", "bulk"], env=env)
        self.supervisor = Supervisor(
            [
                Child("store worker", [*embedapp, "store-worker"], env=env),
                self.bulk,
                Child(
                    "interactive worker", [*embedapp, "worker", "--lane", "interactive"], env=env
                ),
                *(
                    Child(
                        f"{lane} worker ({name})",
                        [*embedapp, "worker", "--lane", lane, "--model", name],
                        env=env,
                    )
                    for name in extra_models or {}
                    for lane in ("bulk", "interactive")
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
        wanted = (self.config.concurrency * self.models,) * 2
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

    def ingest(
        self, documents: list[dict[str, str]], batch: int
    ) -> tuple[float, float, dict[str, float]]:
        """docs/s from the first POST until every vector is stored, the children's peak RSS,
        and each part's CPU per document (ms)."""
        collection = f"bench-{int(time.time() * 1000)}"
        assert self.bulk.process is not None
        parts = {
            child.name: [child.process.pid, *cpu.descendants(child.process.pid)]
            for child in self.supervisor.children
            if child.process is not None
        }
        meter = cpu.CpuMeter(parts)
        with (
            httpx.Client(base_url=self.url, timeout=300) as client,
            RssSampler(self.bulk.process.pid) as rss,
        ):
            meter.start()
            started = time.monotonic()
            states = ingest_all(client, collection, documents, batch)
            elapsed = time.monotonic() - started
            spent = meter.stop()
            client.delete(f"/v1/collections/{collection}")
        failed = [t for t, s in states.items() if s != "stored"]
        if failed:
            raise RuntimeError(f"{len(failed)} ingest jobs failed under {self.config.label}")
        per_document = {part: 1000 * s / len(documents) for part, s in spent.items()}
        return len(documents) / elapsed, rss.peak, per_document

    def callers(self, texts: list[str], concurrency: int, per_call: int = 1) -> float:
        """docs/s of `concurrency` clients each sending `per_call` texts per /v1/embeddings
        call."""
        return asyncio.run(
            callers(self.url, "/v1/embeddings", texts, concurrency, per_call=per_call)
        )


async def callers(
    url: str, path: str, texts: list[str], concurrency: int, *, per_call: int = 1
) -> float:
    """docs/s of `concurrency` clients, each sending `per_call` texts per call to `path`
    (`/embed` of the old design takes one; the OpenAI-style routes take a list).

    The callers share the cores with what they measure, so they use aiohttp: about 0.25 ms
    of CPU per request where httpx's AsyncClient took 6 ms at 64 connections, a third of
    both cores that the service then lacked.
    """
    import aiohttp  # the bench extra

    model = Settings().model_id
    calls = iter([texts[i : i + per_call] for i in range(0, len(texts), per_call)])

    async def caller(session: aiohttp.ClientSession) -> None:
        for batch in calls:
            body = {"text": batch[0]} if path == "/embed" else {"model": model, "input": batch}
            while True:
                async with session.post(path, json=body) as response:
                    await response.read()
                    if response.status != 429:
                        response.raise_for_status()
                        break
                await asyncio.sleep(0.01)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        await asyncio.gather(*(caller(session) for _ in range(concurrency)))
        return len(texts) / (time.monotonic() - started)
