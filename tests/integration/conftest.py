"""One `embedapp serve` for the whole session: gateway, prefork embed worker (--concurrency 2),
store worker and Flower as real processes against the real RabbitMQ and Redis."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kombu import Connection

from embedapp.cli.flower import CREDENTIALS_FILE
from embedapp.cli.preflight import check_broker, check_result_backend
from embedapp.gateway.routes.health import served_queues
from embedapp.queues import DEAD_LETTER_QUEUE
from embedapp.settings import Settings
from tests.procs import descendants, survivors
from tests.tiny_model import build_tiny_model

STARTUP_TIMEOUT_S = 180
TASK_TIMEOUT_S = 120
PERMIT_ALL = {"configure": ".*", "write": ".*", "read": ".*"}


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports, below the kernel's ephemeral range.

    A port from that range is also what an outgoing connection (a worker's to RabbitMQ or
    Redis) gets: between this check and a server's bind, one once took a worker's metrics port.
    """
    floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        base = random.randrange(10_000, floor - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base


@dataclass
class Service:
    """The running service and how to reach it."""

    url: str
    flower_url: str
    # Prometheus ports of serve's workers.
    metrics_ports: dict[str, int]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]
    client: httpx.Client

    @property
    def flower_auth(self) -> tuple[str, str]:
        """The basic auth `embedapp serve` made for Flower (kept in its data dir)."""
        user, _, password = self.flower_credentials.read_text().strip().partition(":")
        return user, password

    @property
    def flower_credentials(self) -> Path:
        return Path(self.env["EMBEDAPP_DATA_DIR"]) / CREDENTIALS_FILE

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def ingest(self, collection: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.client.post(
            f"/v1/collections/{collection}/documents", json={"documents": documents}
        )
        assert response.status_code == 202, response.text
        return response.json()

    def wait_for(
        self,
        task_id: str,
        *,
        until: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = TASK_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Poll the task until it is stored or failed (or `until` holds)."""
        until = until or (lambda status: status["state"] in ("stored", "failed"))
        deadline = time.monotonic() + timeout
        while True:
            status = self.client.get(f"/v1/tasks/{task_id}").json()
            if until(status):
                return status
            assert time.monotonic() < deadline, f"task {task_id} stuck at {status}"
            time.sleep(0.1)


def _reset_queues(settings: Settings) -> None:
    # Start empty: leftovers of an interrupted run would be consumed here (and a queue that
    # an older embedapp declared with a fixed bound is declared again).
    with Connection(settings.broker_url) as conn:
        channel = conn.channel()
        for queue in (*served_queues(settings), DEAD_LETTER_QUEUE.name):
            channel.queue_delete(queue)


def _wait_ready(service: Service, concurrency: int, models: int) -> None:
    """Until /ready says 200; which it must not say before every embed child has loaded its
    model (each logs that it serves its lane once it has; `embed.bulk.NAME` counts too)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert service.process.poll() is None, f"embedapp serve exited:\n{service.log_text()}"
        try:
            response = service.client.get("/ready")
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if response.status_code == 200:
            # A child logs that it serves its lane before it counts as ready: read after.
            log = service.log_text()
            loaded = (log.count("serves embed.bulk"), log.count("serves embed.interactive"))
            wanted = concurrency * models
            assert loaded == (wanted, wanted), (
                f"/ready said 200 with {loaded} of {wanted} children per lane loaded: "
                f"{response.json()}"
            )
            assert len(response.json()["checks"]["workers"]) >= 3
            return
        time.sleep(0.2)
    raise AssertionError(
        f"embedapp serve not ready in {STARTUP_TIMEOUT_S} s:\n{service.log_text()[-5000:]}"
    )


@contextmanager
def _serve(
    data_dir: Path,
    *,
    concurrency: int,
    empty_before: bool = True,
    empty_after: bool = True,
    **settings: str,
) -> Iterator[Service]:
    """`embedapp serve --concurrency N` with these EMBEDAPP_ settings, stopped with SIGINT;
    its queues emptied before it starts and after it stops unless told otherwise."""
    env = {**os.environ, **{f"EMBEDAPP_{k.upper()}": v for k, v in settings.items()}}
    base = Settings(**{k: v for k, v in settings.items() if k in Settings.model_fields})
    missing = [p for p in (check_broker(base), check_result_backend(base)) if p]
    assert not missing, "integration tests need RabbitMQ and Redis:\n" + "\n".join(
        map(str, missing)
    )
    if empty_before:
        _reset_queues(base)
    models = len(base.served_models)
    # One range for all (gateway, Flower, a metrics port per worker), so that they cannot
    # collide with each other either.
    port = _free_ports(3 + 2 * models)
    flower_port, metrics_port = port + 1, port + 2
    env |= {
        "EMBEDAPP_DATA_DIR": str(data_dir),
        "EMBEDAPP_GATEWAY_PORT": str(port),
        "EMBEDAPP_FLOWER_PORT": str(flower_port),
        "EMBEDAPP_WORKER_METRICS_PORT": str(metrics_port),
        "EMBEDAPP_LOG_LEVEL": "INFO",
    }
    log = data_dir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "embedapp", "serve", "--concurrency", str(concurrency)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=60) as client:
        svc = Service(
            url=url,
            flower_url=f"http://127.0.0.1:{flower_port}",
            # In the order `embedapp serve` starts them.
            metrics_ports={
                "store": metrics_port,
                "bulk": metrics_port + 1,
                "interactive": metrics_port + 2,
            },
            env=env,
            log=log,
            process=process,
            client=client,
        )
        try:
            _wait_ready(svc, concurrency, models)
            yield svc
        finally:
            tree = descendants(process.pid)
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                code = process.wait(timeout=90)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                if empty_after:  # leave no job of this session behind for a later serve
                    _reset_queues(base)
    # Ctrl-C must stop every part: gateway, both workers with their children, Flower.
    assert code == 0, f"embedapp serve exited with {code}:\n{log.read_text()[-3000:]}"
    orphans = survivors(tree)
    assert not orphans, f"processes left behind by embedapp serve: {orphans}"


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The session's service, on the default embedded store (Qdrant Edge)."""
    with _serve(tmp_path_factory.mktemp("data"), concurrency=2) as svc:
        yield svc


def _vhost(settings: Settings, name: str) -> str:
    """A RabbitMQ virtual host of its own (queues apart from the session's service)."""
    api = settings.management_api_url.rstrip("/")
    for path, body in ((f"/vhosts/{name}", None), (f"/permissions/{name}/guest", PERMIT_ALL)):
        httpx.put(f"{api}{path}", json=body, timeout=10).raise_for_status()
    return f"{settings.broker_url.rstrip('/')}/{name}"


@pytest.fixture(scope="session")
def server_path_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A second service whose store runs qdrant-client's code path (a Qdrant server's API),
    on qdrant-client's local mode: no Qdrant server binary exists on these machines."""
    with _serve(
        tmp_path_factory.mktemp("data-server-path"),
        concurrency=1,
        embedded_store="local",
        broker_url=_vhost(Settings(), "embedapp-server-path"),
        result_backend="redis://127.0.0.1:6379/1",
    ) as svc:
        yield svc


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model: random weights, 32 dimensions (tests/tiny_model.py)."""
    return build_tiny_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def two_models_service(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[Service]:
    """A service of two models: the default and the tiny one (`tiny`), a worker pair each."""
    with _serve(
        tmp_path_factory.mktemp("data-two-models"),
        concurrency=1,
        models=f"sentence-transformers/all-MiniLM-L6-v2,tiny={tiny_model}",
        broker_url=_vhost(Settings(), "embedapp-two-models"),
        result_backend="redis://127.0.0.1:6379/2",
    ) as svc:
        yield svc


@pytest.fixture
def collection() -> str:
    """A collection of the test's own."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def reference_model() -> Any:
    """The model as the library itself loads it, to check the workers' vectors against."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(Settings().model_source, device="cpu")
