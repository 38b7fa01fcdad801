import os
import subprocess
import sys
from typing import Any

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


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words, through the groups (typer's own click: by duck type)."""
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found += _commands(command, path) if hasattr(command, "commands") else [path]
    return found


def test_every_commands_help_reads_like_a_cli_in_80_columns() -> None:
    import typer
    from typer.testing import CliRunner

    from embedapp.cli.main import app

    runner = CliRunner()
    commands = _commands(typer.main.get_command(app))
    assert ("ingest",) in commands and ("bench", "soak") in commands
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, command
        # No Python type beside a name: an option shows its metavar, an argument its name alone.
        for label in ("<bool>", "<str>", "<int", "<float>", "<path>", "<file>", "<list["):
            assert label not in result.output, (command, label, result.output)
        # Arguments in the usage line as click writes them: `FILE`, `[TASK_ID]...`, no braces.
        arguments = result.output.splitlines()[0].partition("[OPTIONS]")[2]
        assert arguments == arguments.upper() and "{" not in arguments, (command, arguments)
        assert "…" not in result.output, command  # nothing cut off
        assert max(map(len, result.output.splitlines())) <= 80, command
