"""Job state in the result backend, shared by the gateway (which records and reads it)
and the tasks (which report progress). The job id is the id of the chain's last task,
so Celery itself stores the final result (or the failure) under it."""

from typing import Any

from celery import states
from celery.backends.base import Backend

from embedapp.schemas import TaskStatus

QUEUED = "QUEUED"
EMBEDDING = "EMBEDDING"


def record_queued(backend: Backend, job_id: str, *, collection: str, total: int) -> None:
    """Mark a job accepted, so its id is known (not PENDING) before any worker sees it."""
    backend.store_result(job_id, {"collection": collection, "total": total, "done": 0}, QUEUED)


def record_progress(
    backend: Backend, job_id: str, *, collection: str, total: int, done: int
) -> None:
    """Report how many of a job's documents are embedded so far."""
    backend.store_result(
        job_id, {"collection": collection, "total": total, "done": done}, EMBEDDING
    )


def to_status(job_id: str, meta: dict[str, Any]) -> TaskStatus | None:
    """The client's view of a stored task meta; None for an id the backend never saw."""
    state, result = meta.get("status"), meta.get("result")
    if state == states.PENDING:
        return None
    if state in states.PROPAGATE_STATES:
        reason = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else str(result)
        )
        return TaskStatus(task_id=job_id, state="failed", error=reason)
    info = result if isinstance(result, dict) else {}
    state_name = {QUEUED: "queued", states.SUCCESS: "stored"}.get(state, "embedding")
    return TaskStatus(
        task_id=job_id,
        state=state_name,
        collection=info.get("collection"),
        total=info.get("total"),
        done=info.get("done"),
        stored=info.get("stored"),
    )
