"""Job state in the result backend, shared by the gateway (which records and reads it)
and the tasks (which report progress). A job's id is the id of its chain's last task,
so Celery itself stores the final result (or the failure) under it."""

import logging
from typing import Any

from celery import states
from celery.backends.base import Backend

from embedapp.errors import EmbedappError
from embedapp.schemas import TaskStatus

log = logging.getLogger(__name__)

QUEUED = "QUEUED"
EMBEDDING = "EMBEDDING"
# An ingest request split into several jobs: its info names them (`parts`) and the total.
SPLIT = "SPLIT"
# What a task's stored info may tell the client: every TaskStatus field but these three.
RESULT_FIELDS = TaskStatus.model_fields.keys() - {"task_id", "state", "error"}


def record_progress(
    backend: Backend, job_id: str, *, collection: str, total: int, done: int
) -> None:
    """Report how many of a job's documents are done so far (never fails the job)."""
    try:
        backend.store_result(
            job_id, {"collection": collection, "total": total, "done": done}, EMBEDDING
        )
    except Exception as exc:  # progress is informational; the result backend may be down
        log.warning("progress of %s not recorded: %s", job_id, exc)


def _reason(error: object) -> str:
    """Why a job failed, as the client may read it: our own errors and Celery's say what
    happened; anything else only its kind (its text may hold paths and internals)."""
    if not isinstance(error, BaseException):
        return "failed in the worker; its log has the details"
    kind = type(error).__name__
    ours = type(error).__module__.startswith(("celery.", "billiard."))
    if isinstance(error, EmbedappError) or ours:
        return f"{kind}: {error}"
    return f"{kind} in the worker; its log has the details"


def to_status(job_id: str, meta: dict[str, Any]) -> TaskStatus | None:
    """The client's view of a stored task meta; None for an id the backend never saw."""
    state, result = meta.get("status"), meta.get("result")
    if state == states.PENDING:
        return None
    if state in states.PROPAGATE_STATES:
        return TaskStatus(task_id=job_id, state="failed", error=_reason(result))
    info = result if isinstance(result, dict) else {}
    if state == states.SUCCESS:
        name = "deleted" if info.get("kind") == "delete" else "stored"
    else:
        name = "queued" if state == QUEUED else "embedding"
    return TaskStatus(task_id=job_id, state=name, **{k: info.get(k) for k in RESULT_FIELDS})


def combine(job_id: str, split: dict[str, Any], parts: list[TaskStatus | None]) -> TaskStatus:
    """One status for a request split into jobs: `split` is its SPLIT record's info,
    `parts` the jobs' statuses (None where unknown)."""
    for index, part in enumerate(parts):
        if part is not None and part.state == "failed":
            error = f"job {index + 1} of {len(parts)} ({part.task_id}): {part.error}"
            return TaskStatus(task_id=job_id, state="failed", error=error)
    known = [part for part in parts if part is not None]
    whole = {"collection": split["collection"], "total": split["total"]}
    done = sum(part.done or 0 for part in known)
    if len(known) < len(parts) or any(part.state != "stored" for part in known):
        state = "queued" if all(part.state == "queued" for part in known) else "embedding"
        return TaskStatus(task_id=job_id, state=state, done=done, **whole)
    return TaskStatus(
        task_id=job_id,
        state="stored",
        done=done,
        embedded=sum(part.embedded or 0 for part in known),
        unchanged=sum(part.unchanged or 0 for part in known),
        stored=sum(part.stored or 0 for part in known),
        truncated=[doc for part in known for doc in part.truncated or []],
        **whole,
    )
