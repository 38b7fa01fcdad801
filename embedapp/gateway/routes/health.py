"""Liveness and readiness."""

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from embedapp.gateway.deps import ServicesDep

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 2.0


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


def _probe_broker(services: Any) -> str:
    with services.celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_S)
    return "ok"


def _probe_workers(services: Any) -> list[str]:
    replies = services.celery.control.ping(timeout=PROBE_TIMEOUT_S / 2) or []
    return sorted(name for reply in replies for name in reply)


@router.get("/ready")
async def ready(request: Request, services: ServicesDep) -> JSONResponse:
    """Ready when the broker, the result backend and at least one worker answer (checked at
    most once a second, however many probes come)."""
    ok, checks = await request.app.state.readiness.get(lambda: _check(services))
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
    )


async def _check(services: Any) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    try:
        checks["broker"] = await anyio.to_thread.run_sync(
            _probe_broker, services, limiter=services.probe_threads
        )
    except Exception as exc:  # any failure means "not ready", reported by kind
        checks["broker"] = f"unreachable ({type(exc).__name__})"
    try:
        with anyio.fail_after(PROBE_TIMEOUT_S):
            await services.results.ping()
        checks["result_backend"] = "ok"
    except Exception as exc:
        checks["result_backend"] = f"unreachable ({type(exc).__name__})"
    workers: list[str] = []
    if checks["broker"] == "ok":
        workers = await anyio.to_thread.run_sync(
            _probe_workers, services, limiter=services.probe_threads
        )
    checks["workers"] = workers
    ok = checks["broker"] == "ok" and checks["result_backend"] == "ok" and bool(workers)
    return ok, checks
