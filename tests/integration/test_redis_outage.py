"""Redis away from the workers for a while: ingest waits and then goes on; no job fails or
ends in the dead-letter queue because Redis was away."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from embedapp.queues import DEAD_LETTER_QUEUE
from embedapp.settings import Settings
from tests.integration.conftest import _serve, _vhost

pytestmark = pytest.mark.integration

JOBS, DOCUMENTS = 6, 100
OUTAGE_S = 12


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
        != b"PONG\n"
    ):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)
    return server


@pytest.fixture
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = _free_port()
    server = _redis(port, tmp_path_factory.mktemp("redis"))
    yield port
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
    server.wait(timeout=10)


def test_ingest_waits_out_a_redis_outage_and_nothing_is_dead_lettered(
    tmp_path: Path, redis_port: int
) -> None:
    broker = _vhost(Settings(), "embedapp-redis-outage")
    settings = {"broker_url": broker, "result_backend": f"redis://127.0.0.1:{redis_port}/0"}
    with _serve(tmp_path, concurrency=1, **settings) as service:
        for job in range(JOBS):
            documents = [
                {"id": f"{job}-{i}", "text": f"job {job} document {i} " * 10}
                for i in range(DOCUMENTS)
            ]
            service.ingest("outage", documents)
        subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"], check=True)
        time.sleep(OUTAGE_S)  # the workers finish, or try to record, jobs meanwhile
        _redis(redis_port, tmp_path / "..")
        deadline = time.monotonic() + 300
        while (
            points := service.client.get("/v1/collections/outage").json().get("points")
        ) != JOBS * DOCUMENTS:
            assert time.monotonic() < deadline, f"{points} of {JOBS * DOCUMENTS} stored"
            time.sleep(1)
        with Connection(broker) as connection:
            dead = connection.default_channel.queue_declare(DEAD_LETTER_QUEUE.name, passive=True)
        log = service.log_text()
    assert dead.message_count == 0, log[-5000:]
    assert "Retrying" in log  # the workers did meet the outage, and waited it out
