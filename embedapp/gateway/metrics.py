"""The gateway's Prometheus metrics: requests, publishes, refusals and queue depths."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedapp.queues import connection_errors, queue_stats
from embedapp.settings import Settings


class QueueDepth(Collector):
    """Messages waiting and consumers per queue, read at scrape time. A scrape answers even
    with RabbitMQ gone: the depth gauges are then left out and embedapp_broker_up is 0."""

    def __init__(self, broker_url: str, queues: Iterable[str]) -> None:
        self.broker_url = broker_url
        self.queues = list(queues)
        self.unreachable = connection_errors(broker_url)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "embedapp_queue_messages", "Messages ready in a RabbitMQ queue", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "embedapp_queue_consumers", "Consumers of a RabbitMQ queue", labels=["queue"]
        )
        up = GaugeMetricFamily("embedapp_broker_up", "1 if RabbitMQ answered this scrape")
        try:
            stats = queue_stats(self.broker_url, self.queues)
        except self.unreachable:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for queue, (messages, listening) in stats.items():
                depth.add_metric([queue], messages)
                consumers.add_metric([queue], listening)
        yield from (depth, consumers, up)


class GatewayMetrics:
    """The gateway's series, in a registry of the app's own (one per create_app)."""

    def __init__(self, settings: Settings, queues: Iterable[str]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "embedapp_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "embedapp_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "embedapp_publish_seconds",
            "Publishing a task until RabbitMQ confirmed it",
            ["task"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.rejected = Counter(
            "embedapp_publish_rejected",
            "Requests refused: queue_full, store_behind (429) or broker_unavailable (503)",
            ["reason"],
            registry=self.registry,
        )
        for reason in (
            "queue_full",
            "store_behind",
            "broker_unavailable",
        ):  # a series from the start, at 0
            self.rejected.labels(reason)
        self.registry.register(QueueDepth(settings.broker_url, queues))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class RequestMetrics:
    """Counts every response (401s and 413s included) by route template, never raw path."""

    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # Routing fills in scope["route"]; a request refused before it has none.
            route = getattr(scope.get("route"), "path", "other")
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_seconds.labels(method, route).observe(
                time.perf_counter() - started
            )
