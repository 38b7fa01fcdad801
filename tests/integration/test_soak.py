"""The soak's short form: ingest while embed children are SIGKILLed and RabbitMQ restarts;
every accepted document stored once. `embedapp bench soak` runs the long form."""

from __future__ import annotations

import pytest
from rich.console import Console

from embedapp.bench import soak
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration


def test_accepted_equals_stored_through_child_kills_and_a_broker_restart(service: Service) -> None:
    documents = [{"id": f"soak-{i}", "text": f"soak document {i} " * 12} for i in range(800)]
    result = soak.soak(
        service.url,
        documents,
        batch=100,
        kill_every_s=2.0,
        kills=3,
        restart_broker_after_s=4.0,
        console=Console(quiet=True),
    )
    assert result["kills"] >= 1 and result["broker_restarts"] == 1, result
    assert (result["lost"], result["duplicates"], result["failed_jobs"]) == (0, 0, 0), result
