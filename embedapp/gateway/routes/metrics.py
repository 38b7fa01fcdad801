"""Prometheus scrape endpoint."""

import anyio
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from embedapp.gateway.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """The gateway's metrics in Prometheus' text format. Queue depths are read from RabbitMQ
    in a thread of the probes' own: scrapes never take the threads publishing needs."""
    exposition = request.app.state.metrics.exposition
    text = await anyio.to_thread.run_sync(exposition, limiter=services.probe_threads)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
