"""What the gateway holds for its lifetime, and the ways it talks to the workers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from amqp.exceptions import MessageNacked
from celery import Celery, states
from kombu.exceptions import OperationalError

from celeryconfig import BULK_QUEUE, STORE_QUEUE
from embedapp import jobs
from embedapp.errors import (
    EmbedappError,
    GatewayTimeoutError,
    QueueFullError,
    UnavailableError,
)
from embedapp.gateway.results import ResultReader
from embedapp.schemas import DocumentIn, IngestJob
from embedapp.settings import Settings


@dataclass
class Services:
    """The gateway's long-lived clients, created in the app's lifespan."""

    settings: Settings
    celery: Celery
    results: ResultReader

    async def publish(self, send: Any, **options: Any) -> None:
        """Publish and wait for RabbitMQ's confirm (in a thread: kombu blocks)."""
        try:
            await anyio.to_thread.run_sync(partial(send, **options))
        except OperationalError as exc:
            if isinstance(exc.__cause__, MessageNacked) or "nack" in str(exc).lower():
                raise QueueFullError("the queue is full; retry later") from exc
            raise UnavailableError(
                f"the message broker is unreachable ({self.settings.broker_url.split('@')[-1]})"
            ) from exc

    async def submit_ingest(self, collection: str, documents: list[DocumentIn]) -> str:
        """Record a job as queued and publish embed → store; returns the job id."""
        job_id = str(uuid.uuid4())
        job = IngestJob(
            job_id=job_id, collection=collection, model=self.settings.model_id, documents=documents
        )
        await anyio.to_thread.run_sync(
            partial(
                jobs.record_queued,
                self.celery.backend,
                job_id,
                collection=collection,
                total=len(documents),
            )
        )
        pipeline = self.celery.signature(
            "embedapp.embed_documents", args=(job.model_dump(),), queue=BULK_QUEUE
        ) | self.celery.signature("embedapp.store.upsert", queue=STORE_QUEUE)
        try:
            await self.publish(pipeline.apply_async, task_id=job_id)
        except EmbedappError:
            await self.results.forget(job_id)
            raise
        return job_id

    async def call(self, name: str, *args: Any, queue: str) -> Any:
        """Run a task on a worker and return its result, without blocking the event loop."""
        task_id = str(uuid.uuid4())
        await self.publish(
            self.celery.send_task, name=name, args=args, queue=queue, task_id=task_id
        )
        try:
            meta = await self.results.wait(task_id, self.settings.request_timeout_s)
        except TimeoutError as exc:
            raise GatewayTimeoutError(
                f"no worker answered within {self.settings.request_timeout_s:g} s (task {task_id})"
            ) from exc
        await self.results.forget(task_id)
        result = meta["result"]
        if meta["status"] == states.SUCCESS:
            return result
        if isinstance(result, EmbedappError):
            raise result
        raise EmbedappError(f"task {name} failed (task {task_id})")
