"""Schemathesis against the running gateway's OpenAPI schema: no input makes a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration


def test_no_generated_input_makes_a_server_error(service: Service, tmp_path: Path) -> None:
    # The CLI, bounded in examples and time per request; seeded, so a failure can be replayed.
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--request-timeout",
            "60",
            "--seed",
            "20261125",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its cache of crashes stays out of the checkout
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
