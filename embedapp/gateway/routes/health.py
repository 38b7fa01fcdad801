"""Liveness and readiness."""

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from embedapp.gateway.deps import ServicesDep
from embedapp.queues import STORE_QUEUE, embed_queues, queue_stats
from embedapp.settings import Settings

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 2.0


def served_queues(settings: Settings) -> list[str]:
    """Every queue that needs a consumer: each served model's two lanes, and the store's."""
    lanes = [q for spec in settings.served_models for q in embed_queues(settings, spec.name)]
    return [*lanes, STORE_QUEUE]


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


def _probe_workers(services: Any) -> dict[str, Any]:
    """Each worker that answers, with how many of its children are ready (model loaded)."""
    replies = services.celery.control.broadcast(
        "embedapp_children", reply=True, timeout=PROBE_TIMEOUT_S / 2
    )
    return {name: answer for reply in replies or [] for name, answer in reply.items()}


def _probe_consumers(services: Any) -> dict[str, int]:
    # One connection answers both: whether RabbitMQ is there, and who consumes each queue.
    stats = queue_stats(services.settings.broker_url, served_queues(services.settings))
    return {queue: consumers for queue, (_, consumers) in stats.items()}


@router.get("/ready")
async def ready(request: Request, services: ServicesDep) -> JSONResponse:
    """Ready when the broker and the result backend answer, workers answer with every child
    ready (its model loaded), and every queue has a consumer (checked at most once a second,
    however many probes come)."""
    ok, checks = await request.app.state.readiness.get(lambda: _check(services))
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
    )


async def _check(services: Any) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    consumers = dict.fromkeys(served_queues(services.settings), 0)
    try:
        consumers |= await anyio.to_thread.run_sync(
            _probe_consumers, services, limiter=services.probe_threads
        )
        checks["broker"] = "ok"
    except Exception as exc:  # any failure means "not ready", reported by kind
        checks["broker"] = f"unreachable ({type(exc).__name__})"
    try:
        with anyio.fail_after(PROBE_TIMEOUT_S):
            await services.results.ping()
        checks["result_backend"] = "ok"
    except Exception as exc:
        checks["result_backend"] = f"unreachable ({type(exc).__name__})"
    workers: dict[str, Any] = {}
    if checks["broker"] == "ok":
        workers = await anyio.to_thread.run_sync(
            _probe_workers, services, limiter=services.probe_threads
        )
    checks["workers"] = sorted(workers)
    # A worker consumes before its children have loaded the model (seconds): not ready yet.
    loading = {
        name: f"{answer['ready']} of {answer['children']} children ready"
        for name, answer in workers.items()
        if isinstance(answer, dict) and answer.get("ready", 0) < answer.get("children", 0)
    }
    checks["children"] = loading or "ready"
    # Every queue needs a consumer: a worker that answers pings proves nothing for a queue
    # nobody takes (searches would wait for their timeout, jobs would pile up unseen).
    checks["consumers"] = consumers
    ok = (
        checks["broker"] == "ok"
        and checks["result_backend"] == "ok"
        and bool(workers)
        and not loading
        and all(consumers.values())
    )
    return ok, checks
