"""Slow and greedy clients cannot take the gateway away from everyone else: idle and
half-sent connections are closed after the header timeout, and a flood of unauthenticated
probes does not hold the threads that publishing needs."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import ExitStack

import httpx
import pytest

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration

HEADER_TIMEOUT_S = 10  # EMBEDAPP_HEADER_TIMEOUT_S's default, which the session service runs


def _connect(service: Service, stack: ExitStack, first_bytes: bytes) -> socket.socket:
    host, port = service.url.removeprefix("http://").split(":")
    sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def test_idle_and_half_sent_connections_are_closed_and_others_are_served(
    service: Service,
) -> None:
    with ExitStack() as stack:
        idle = [_connect(service, stack, b"") for _ in range(200)]
        slow = [
            _connect(service, stack, b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Le")
            for _ in range(200)
        ]
        # While they hang on, a real client is served.
        response = service.client.post("/embed", json={"inputs": "still served"})
        assert response.status_code == 200, response.text
        # Then the server closes every one of them (recv returns b"" at the end of stream).
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 20
        for sock in idle + slow:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass  # closed as well
            except TimeoutError:
                pytest.fail(f"a connection without complete headers was kept past {deadline}")


def test_a_flood_of_probes_does_not_hold_back_ingest(service: Service, collection: str) -> None:
    async def flood_and_ingest() -> float:
        many = httpx.Limits(max_connections=None)
        async with (
            httpx.AsyncClient(base_url=service.url, timeout=120, limits=many) as prober,
            httpx.AsyncClient(base_url=service.url, timeout=120) as client,
        ):
            probes = [
                asyncio.ensure_future(prober.get(path))
                for _ in range(150)
                for path in ("/ready", "/metrics")
            ]
            await asyncio.sleep(0.5)  # the probes are in
            started = time.monotonic()
            accepted = await client.post(
                f"/v1/collections/{collection}/documents",
                json={"documents": [{"text": "published while probes pile up"}]},
            )
            took = time.monotonic() - started
            assert accepted.status_code == 202, accepted.text
            answers = await asyncio.gather(*probes)
            assert all(a.status_code == 200 for a in answers)
            return took

    # Without their own threads 300 probes (each a second of worker ping) queued the publish
    # behind them for several seconds.
    assert asyncio.run(flood_and_ingest()) < 3.0
