import os
import subprocess
import sys

import pytest


def _embedapp(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COLUMNS": "200", **env}
    environ.pop("EMBEDAPP_QDRANT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "embedapp", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["serve", "worker", "store-worker", "gateway"])
def test_a_missing_broker_and_backend_are_named_with_how_to_start_them(command: str) -> None:
    result = _embedapp(
        command,
        EMBEDAPP_BROKER_URL="amqp://guest:guest@127.0.0.1:1//",
        EMBEDAPP_RESULT_BACKEND="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 2
    assert "RabbitMQ does not answer at amqp://127.0.0.1:1//" in result.stderr
    assert "rabbitmq-server -detached" in result.stderr
    assert "Redis does not answer at redis://127.0.0.1:1/0" in result.stderr
    assert "redis-server --daemonize yes" in result.stderr
    assert "guest:guest" not in result.stderr  # credentials are not echoed
    assert "Traceback" not in result.stderr


def test_more_than_one_store_child_needs_a_qdrant_server() -> None:
    result = _embedapp("store-worker", "-c", "2")
    assert result.returncode == 2
    assert "EMBEDAPP_QDRANT_URL" in result.stderr


def test_version_is_printed() -> None:
    from importlib.metadata import version

    result = _embedapp("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"embedapp {version('embedapp')}"


def test_replaying_every_dead_message_needs_all() -> None:
    # Refused before any broker is asked: a broker that is not there is never reached.
    result = _embedapp("dlq", "replay", EMBEDAPP_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    assert result.returncode == 2 and "--all" in result.stderr
