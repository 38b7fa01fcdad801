"""Flower under `embedapp serve` is closed by default: no anonymous caller and no cross-site
page can run, revoke or terminate tasks or shut workers down."""

from __future__ import annotations

import stat

import httpx
import pytest

from embedapp import queues
from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

# Calls that change something: each would be an attack if Flower ran it for a stranger.
WRITES = [
    f"/api/task/async-apply/{queues.DELETE_COLLECTION}",
    "/api/task/revoke/00000000-0000-0000-0000-000000000000?terminate=true",
    "/api/worker/shutdown/store@nowhere",
]


def test_anonymous_callers_get_401_on_every_write(service: Service) -> None:
    for path in WRITES:
        response = httpx.post(f"{service.flower_url}{path}", json={"args": ["x"]}, timeout=10)
        assert response.status_code == 401, (path, response.status_code, response.text)
    assert httpx.get(f"{service.flower_url}/api/workers", timeout=10).status_code == 401


def test_a_cross_site_page_is_refused_even_with_the_operators_credentials(
    service: Service,
) -> None:
    # What a browser sends for a page on another site that posts to Flower, with the basic
    # auth it remembers for Flower's origin.
    for headers in (
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Origin": "https://evil.example"},  # an older browser: no fetch metadata
    ):
        response = httpx.post(
            f"{service.flower_url}{WRITES[0]}",
            json={"args": ["x"]},
            headers=headers,
            auth=service.flower_auth,
            timeout=10,
        )
        assert response.status_code == 403, (headers, response.status_code, response.text)
        assert "access-control-allow-origin" not in response.headers
    preflight = httpx.options(
        f"{service.flower_url}{WRITES[0]}",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_the_made_credentials_are_owner_only_and_never_printed(service: Service) -> None:
    user, password = service.flower_auth
    assert user and len(password) >= 24
    assert stat.S_IMODE(service.flower_credentials.stat().st_mode) == 0o600
    log = service.log_text()
    assert str(service.flower_credentials) in log  # where to find them is printed
    assert password not in log
    # Nor any other credential: the broker's password (guest here) is masked everywhere.
    assert "guest:guest" not in log
    ok = httpx.get(f"{service.flower_url}/api/workers", auth=(user, password), timeout=10)
    assert ok.status_code == 200, ok.text
