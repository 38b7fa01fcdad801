"""Startup checks name the missing service, where they looked (no password) and the fix."""

from __future__ import annotations

import socket

import pytest

from embedapp.cli import preflight
from embedapp.settings import Settings


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_silent_broker_is_named_with_its_fix_and_no_password(closed_port: int) -> None:
    settings = Settings(_env_file=None, broker_url=f"amqp://guest:secret@127.0.0.1:{closed_port}//")
    problem = preflight.check_broker(settings)
    assert problem is not None
    assert f"amqp://127.0.0.1:{closed_port}//" in problem.message
    assert "secret" not in str(problem)
    assert "rabbitmq-server -detached" in problem.fix


def test_a_silent_result_backend_is_named_with_its_fix(closed_port: int) -> None:
    settings = Settings(_env_file=None, result_backend=f"redis://:pw@127.0.0.1:{closed_port}/0")
    problem = preflight.check_result_backend(settings)
    assert problem is not None and "redis-server" in problem.fix
    assert "pw@" not in problem.message


def test_a_silent_management_api_says_what_flower_will_lack(closed_port: int) -> None:
    settings = Settings(_env_file=None, broker_api_url=f"http://127.0.0.1:{closed_port}/api/")
    problem = preflight.check_management_api(settings)
    assert problem is not None and "no queue depths" in problem.message
    assert "rabbitmq_management" in problem.fix


def test_queues_are_not_checked_on_a_broker_that_does_not_answer(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "check_result_backend", lambda settings: None)
    checked: list[Settings] = []
    monkeypatch.setattr(preflight, "check_queues", checked.append)
    settings = Settings(_env_file=None, broker_url=f"amqp://127.0.0.1:{closed_port}//")
    found = preflight.problems(settings)
    assert len(found) == 1 and "RabbitMQ" in found[0].message
    assert checked == []
