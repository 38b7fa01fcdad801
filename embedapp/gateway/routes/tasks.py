"""Task state, answered from the result backend by any gateway process."""

import asyncio

from fastapi import APIRouter

from embedapp import jobs
from embedapp.apikeys import Scope
from embedapp.errors import NotFoundError
from embedapp.gateway.deps import PrincipalDep, ServicesDep, require
from embedapp.schemas import TaskStatus

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])


@router.get("/{task_id}", response_model=TaskStatus, response_model_exclude_none=True)
async def get_task(task_id: str, services: ServicesDep, principal: PrincipalDep) -> TaskStatus:
    """Where a job is: queued, embedding (done/total), stored, or failed with a reason."""
    require(principal, Scope.read, Scope.write)  # writers follow the jobs they queued
    meta = await services.results.read(task_id)
    if meta["status"] == jobs.SPLIT:
        info = meta["result"]
        metas = await asyncio.gather(*(services.results.read(p) for p in info["parts"]))
        parts = [jobs.to_status(p, m) for p, m in zip(info["parts"], metas, strict=True)]
        status: TaskStatus | None = jobs.combine(task_id, info, parts)
    else:
        status = jobs.to_status(task_id, meta)
    # Another team's job is as unknown to this key as one that never was (a key that sees
    # every collection needs no lookup of the job's).
    if status is None or not (
        principal.sees_all or principal.sees(await services.results.collection_of(task_id))
    ):
        raise NotFoundError(f"no task {task_id!r} (unknown, or expired from the result backend)")
    return status
