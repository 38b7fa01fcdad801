"""The design embedapp replaced, kept as a benchmark baseline (never used by embedapp).

`uvicorn embedapp.bench.old_design:app --workers N`: every process loads the model and owns an
`asyncio.Queue(maxsize=K)` drained by M asyncio tasks; one text per request, 429 when the
queue is full. Queues are not shared between processes and die with them.

OLD_DESIGN_TASKS (M, default 4), OLD_DESIGN_QUEUE (K, default 64) and OLD_DESIGN_THREADS
(torch threads per process, default 1) are its knobs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

TASKS = int(os.environ.get("OLD_DESIGN_TASKS", "4"))
QUEUE = int(os.environ.get("OLD_DESIGN_QUEUE", "64"))
THREADS = int(os.environ.get("OLD_DESIGN_THREADS", "1"))

Job = tuple[str, "asyncio.Future[list[float]]"]


class Text(BaseModel):
    text: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    from embedapp.settings import get_settings

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(get_settings().model_source, device="cpu")
    queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=QUEUE)

    async def drain() -> None:
        while True:
            text, future = await queue.get()
            try:
                # The model call runs in a thread so the event loop keeps serving requests.
                vector = await asyncio.to_thread(model.encode, [text], normalize_embeddings=True)
                future.set_result(vector[0].tolist())
            except Exception as exc:
                future.set_exception(exc)

    workers = [asyncio.create_task(drain()) for _ in range(TASKS)]
    app.state.queue = queue
    yield
    for worker in workers:
        worker.cancel()


app = FastAPI(lifespan=lifespan)


@app.post("/embed")
async def embed(body: Text) -> Any:
    future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
    try:
        app.state.queue.put_nowait((body.text, future))
    except asyncio.QueueFull:
        return JSONResponse({"error": "queue full"}, status_code=429)
    return {"embedding": await future}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
