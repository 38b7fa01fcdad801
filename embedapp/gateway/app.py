"""The gateway's app factory: `uvicorn embedapp.gateway.app:create_app --factory`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from celery import Celery
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from embedapp.celery_app import create_celery
from embedapp.gateway.clock import AcceptanceClock
from embedapp.gateway.errors import install_error_handlers
from embedapp.gateway.metrics import GatewayMetrics, RequestMetrics
from embedapp.gateway.middleware import ApiKeys, BodyLimit
from embedapp.gateway.probes import Shared
from embedapp.gateway.results import PublishOnlyRedisBackend, TaskResults
from embedapp.gateway.routes import (
    collections,
    documents,
    embeddings,
    health,
    migrations,
    tasks,
)
from embedapp.gateway.routes import metrics as metrics_route
from embedapp.gateway.services import Services
from embedapp.queues import task_queues
from embedapp.schemas import ErrorResponse
from embedapp.settings import Settings, get_settings

# How long a readiness answer is reused.
PROBE_TTL_S = 1.0
# The error statuses the routes may answer, each with the error body.
ERRORS = (
    (400, "A request the model cannot serve as asked"),
    (401, "No key, or an unknown one"),
    (403, "The key lacks the scope"),
    (404, "No such collection, document or task"),
    (409, "The collection holds another model's vectors"),
    (413, "Past a limit: documents, texts, characters, chunks or bytes"),
    (422, "The body or a parameter is invalid"),
    (429, "A queue is full, or the store worker is behind: retry after Retry-After"),
    (500, "Internal error"),
    (503, "RabbitMQ or Redis unavailable: retry after Retry-After"),
    (504, "No worker answered in time"),
)


def _gateway_celery(settings: Settings) -> Celery:
    """The Celery app as the gateway uses it: publishing for a client who waits."""
    celery = create_celery(settings)
    celery.conf.result_backend = PublishOnlyRedisBackend.url_for(settings.result_backend)
    # RabbitMQ blocking publishers (memory or disk alarm) stops reading their sockets: a
    # confirm never comes, and closing the channel kombu gave up on would wait forever for
    # the broker's answer. Socket timeouts bound both; one retry covers a dropped connection.
    timeout = settings.publish_confirm_timeout_s
    celery.conf.broker_transport_options = {
        **celery.conf.broker_transport_options,
        "read_timeout": timeout,
        "write_timeout": timeout,
    }
    celery.conf.result_backend_always_retry = False  # see celeryconfig: workers only
    policy = celery.conf.task_publish_retry_policy
    celery.conf.task_publish_retry_policy = {**policy, "max_retries": 1}
    return celery


def create_app(settings: Settings | None = None) -> FastAPI:
    """A gateway serving these settings (the environment's by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Services]]:
        celery = _gateway_celery(settings)
        # One quick retry, not redis-py's ten with backoff (about 10 s per call): with Redis
        # away, a request goes on without it at once (ingest) or answers 503 (task states).
        redis = Redis.from_url(
            settings.result_backend,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 1),
        )
        results = TaskResults(redis, celery.backend)
        try:
            yield {
                "services": Services(
                    settings=settings,
                    celery=celery,
                    results=results,
                    metrics=metrics,
                    clock=AcceptanceClock(redis),
                )
            }
        finally:
            await results.close()
            await redis.aclose()
            celery.close()

    app = FastAPIOffline(
        title="embedapp",
        summary="Documents in over HTTP, embedded by Celery workers, stored in Qdrant.",
        version="0.1.0",
        lifespan=lifespan,
        # `curl -d '{...}'` sends form content-type; read the body as JSON anyway.
        strict_content_type=False,
        # The body every error really has, documented for every route (FastAPI's own 422
        # schema describes a body this API never sends).
        responses={status: {"model": ErrorResponse, "description": why} for status, why in ERRORS},
    )
    install_error_handlers(app)
    metrics = GatewayMetrics(settings, [q.name for q in task_queues(settings)])
    app.state.metrics = metrics
    app.state.readiness = Shared[tuple[bool, dict]](ttl=PROBE_TTL_S)
    # Added last is outermost: CORS answers preflights before the key check sees them.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(ApiKeys, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestMetrics, metrics=metrics)
    for module in (documents, collections, migrations, embeddings, tasks, health, metrics_route):
        app.include_router(module.router)
    return app
