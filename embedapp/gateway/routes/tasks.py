"""Task state, answered from the result backend by any gateway process."""

import asyncio

from fastapi import APIRouter

from embedapp import jobs
from embedapp.errors import NotFoundError
from embedapp.gateway.deps import ServicesDep
from embedapp.schemas import TaskStatus

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])


@router.get("/{task_id}", response_model=TaskStatus, response_model_exclude_none=True)
async def get_task(task_id: str, services: ServicesDep) -> TaskStatus:
    """Where a job is: queued, embedding (done/total), stored, or failed with a reason."""
    meta = await services.results.read(task_id)
    if meta["status"] == jobs.SPLIT:
        info = meta["result"]
        metas = await asyncio.gather(*(services.results.read(p) for p in info["parts"]))
        parts = [jobs.to_status(p, m) for p, m in zip(info["parts"], metas, strict=True)]
        return jobs.combine(task_id, info, parts)
    status = jobs.to_status(task_id, meta)
    if status is None:
        raise NotFoundError(f"no task {task_id!r} (unknown, or expired from the result backend)")
    return status
