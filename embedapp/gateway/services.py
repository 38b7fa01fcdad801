"""What the gateway holds for its lifetime, and the ways it talks to the workers."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import anyio
from celery import Celery, states
from celery.canvas import Signature

from embedapp import jobs, queues
from embedapp.errors import (
    EmbedappError,
    GatewayTimeoutError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)
from embedapp.gateway.clock import AcceptanceClock
from embedapp.gateway.collection_models import CollectionModels
from embedapp.gateway.limits import check_texts, job_bounds
from embedapp.gateway.metrics import GatewayMetrics
from embedapp.gateway.microbatch import MicroBatcher
from embedapp.gateway.publisher import Publisher
from embedapp.gateway.results import TaskResults
from embedapp.messages import (
    EMBEDDED_JOB_REPR,
    Chunking,
    DocumentIn,
    EmbeddedTexts,
    IngestJob,
    ServedModel,
)
from embedapp.settings import Settings

log = logging.getLogger(__name__)


class EmbedOptions(NamedTuple):
    """What callers must share to share a micro-batch."""

    model: str
    dimensions: int | None
    normalize: bool


@dataclass
class Services:
    """The gateway's long-lived clients, created in the app's lifespan."""

    settings: Settings
    celery: Celery
    results: TaskResults
    metrics: GatewayMetrics
    clock: AcceptanceClock
    # Threads for probes (readiness, metrics), apart from the pool publishing uses; made in
    # the lifespan, inside the event loop.
    probe_threads: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    collections: CollectionModels = field(init=False)
    _batcher: MicroBatcher[EmbedOptions] = field(init=False)
    _served: dict[str, ServedModel] = field(default_factory=dict)
    publisher: Publisher = field(init=False)

    def __post_init__(self) -> None:
        self.publisher = Publisher(self.settings, self.metrics)
        self.collections = CollectionModels(self.settings, self._collection_info)
        self._batcher = MicroBatcher(
            self._embed_batch,
            wait_s=self.settings.microbatch_wait_ms / 1000,
            max_texts=self.settings.microbatch_max_texts,
            in_flight=self.settings.microbatch_slots,
        )

    def task(self, name: str, *args: Any, argsrepr: str | None = None, **kwargs: Any) -> Signature:
        """A signature for a task the workers define, by name (no worker code imported);
        celeryconfig's routes pick its queue.

        `argsrepr`: what Flower shows for the arguments (Celery's default is their repr).
        """
        options = {"argsrepr": argsrepr} if argsrepr else {}
        return self.celery.signature(name, args=args, kwargs=kwargs, **options)

    async def submit(self, signature: Signature, *, job_id: str | None = None, **info: Any) -> str:
        """Record a background job as queued and publish it; its id, for GET /v1/tasks."""
        job_id = job_id or str(uuid.uuid4())
        # Best effort: with Redis down the job is still accepted (only its state is unknown).
        await self.results.record(job_id, jobs.QUEUED, info)
        try:
            await self.publisher.publish(signature, job_id)
        except EmbedappError:
            await self.results.forget(job_id)
            raise
        return job_id

    async def call(self, signature: Signature, *, timeout: float | None = None) -> Any:
        """Run a task (or chain) on the workers and return its result, without blocking."""
        timeout = timeout or self.settings.request_timeout_s
        task_id = str(uuid.uuid4())
        await self.publisher.publish(signature, task_id, expires=timeout)
        late = GatewayTimeoutError(f"no worker answered within {timeout:g} s (task {task_id})")
        try:
            meta = await self.results.wait(task_id, timeout)
        except TimeoutError as exc:
            raise late from exc
        await self.results.forget(task_id)
        if meta["status"] == states.REVOKED:  # a worker took it after it expired, unrun
            raise late
        result = meta["result"]
        if meta["status"] == states.SUCCESS:
            return result
        if isinstance(result, EmbedappError):
            raise result
        raise EmbedappError(f"task {signature.task} failed (task {task_id})")

    async def _collection_info(self, collection: str, timeout: float) -> dict[str, Any]:
        return await self.call(self.task(queues.COLLECTION_INFO, collection), timeout=timeout)

    def model_named(self, name: str | None) -> str:
        """The served model a request names (its full name; None: the default); 404 if it
        is not served."""
        if name is None:
            return self.settings.model_id
        spec = self.settings.served(name)
        if spec is None:
            served = ", ".join(repr(s.name) for s in self.settings.served_models)
            raise NotFoundError(f"model {name!r} is not served here; this service serves {served}")
        return spec.name

    async def submit_ingest(
        self,
        collection: str,
        model: str,
        documents: list[DocumentIn],
        chunking: Chunking | None,
        points: list[int],
    ) -> str:
        """Queue embed_documents (on `model`'s lane) → store.upsert, as one job or several
        (each document may become up to `points` points); the id to follow it by."""
        # One version for the request: its documents' ids are unique.
        version = await self.clock.stamp()
        bounds = job_bounds(points, self.settings)
        if len(bounds) <= 2:
            job = self._job(collection, model, documents, chunking, version, str(uuid.uuid4()))
            return await self._submit_job(job)
        job_id, part_ids = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in bounds[1:]]
        info = {"collection": collection, "total": len(documents), "parts": part_ids}
        await self.results.record(job_id, jobs.SPLIT, info)
        for index, part_id in enumerate(part_ids):
            part = documents[bounds[index] : bounds[index + 1]]
            try:
                job = self._job(collection, model, part, chunking, version, part_id)
                await self._submit_job(job)
            except EmbedappError as exc:
                await self.results.forget(job_id)
                if index == 0:
                    raise
                # Jobs cannot be taken back from RabbitMQ, but sending the same request again
                # is safe and cheap: documents already stored are recognised and skipped.
                raise type(exc)(
                    f"{exc.message}. Documents 0-{bounds[index] - 1} of this request were "
                    "queued before that; send the whole request again (what is stored by "
                    "then is recognised and skipped)",
                    headers=exc.headers,
                ) from exc
        return job_id

    async def served_model(self, model: str) -> ServedModel | None:
        """A served model's window, dimension and files, as its workers recorded them."""
        if model not in self._served:
            found = await self.results.served_model(model)
            if found is None:
                return None
            self._served[model] = found
        return self._served[model]

    async def loaded_model(self, model: str) -> ServedModel:
        """A served model as its workers recorded it just now (dimension, files); 503 if no
        worker has loaded it yet."""
        served = await self.results.served_model(model)
        if served is None:
            raise UnavailableError(
                f"no worker of model {model!r} has loaded it yet, so its dimension is not "
                "known: start one (embedapp worker --model NAME) and retry",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            )
        return served

    def _job(
        self,
        collection: str,
        model: str,
        documents: list[DocumentIn],
        chunking: Chunking | None,
        version: int,
        job_id: str,
    ) -> IngestJob:
        return IngestJob(
            job_id=job_id,
            collection=collection,
            model=model,
            version=version,
            documents=documents,
            chunking=chunking,
        )

    async def _submit_job(self, job: IngestJob) -> str:
        pipeline = self.task(
            queues.EMBED_DOCUMENTS, job.model_dump(), argsrepr=job.summary()
        ) | self.task(queues.UPSERT, argsrepr=EMBEDDED_JOB_REPR)
        return await self.submit(
            pipeline,
            job_id=job.job_id,
            collection=job.collection,
            total=len(job.documents),
            done=0,
        )

    async def _embed_batch(self, texts: list[str], options: EmbedOptions) -> EmbeddedTexts:
        """One embed_texts task on the interactive lane for a micro-batch of callers."""
        signature = self.task(
            queues.EMBED_TEXTS,
            texts,
            argsrepr=f"({len(texts)} texts)",
            model_id=options.model,
            dimensions=options.dimensions,
            normalize=options.normalize,
        )
        return EmbeddedTexts.model_validate(await self.call(signature))

    async def embed(
        self,
        texts: list[str],
        *,
        field: str,
        model: str | None = None,
        truncate: bool = True,
        dimensions: int | None = None,
        normalize: bool = True,
    ) -> EmbeddedTexts:
        """Vectors for a few texts from a served model (None: the default), micro-batched
        with concurrent callers of that model; `field` names them in a 413 (too many, or
        too long).

        `truncate=False`: a text past the model's window is the caller's 422 (TEI's rule),
        decided here so that it never fails the callers it shared a batch with.
        """
        check_texts(texts, self.settings, field)
        options = EmbedOptions(model or self.settings.model_id, dimensions, normalize)
        result = await self._batcher.embed(texts, options)
        if not truncate and result.truncated:
            first = result.truncated[0]
            raise InvalidRequestError(
                f"input {first} is {result.token_counts[first]} tokens; the model reads at "
                f"most {result.max_tokens} (send truncate=true to cut it)"
            )
        return result
