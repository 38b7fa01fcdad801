"""`embedapp bench migration`: what moving a collection to another model costs, beside
ingesting it, on one private stack. The other model is the default one's files under another
name: a migration's speed is that of the model it moves to, here the same one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from embedapp.bench.inprocess import ingest_all
from embedapp.bench.targets import Config, Stack
from embedapp.settings import Settings

COPY = "all-MiniLM-L6-v2-again"
TIMEOUT_S = 3600


def run(
    documents: list[dict[str, Any]], *, batch: int, workdir: Path, console: Console
) -> dict[str, Any]:
    """docs/s of an ingest and of the migration of what it stored, side by side."""
    collection = "moving"
    with (
        Stack(Config(dtype="auto"), workdir, {COPY: Settings().model_source}) as stack,
        httpx.Client(base_url=stack.url, timeout=300) as client,
    ):
        started = time.monotonic()
        ingest_all(client, collection, documents, batch)
        ingest = len(documents) / (time.monotonic() - started)
        console.print(f"ingest: {ingest:.0f} docs/s")
        started = time.monotonic()
        migration = (
            client.post(f"/v1/collections/{collection}/migrations", json={"model": COPY})
            .raise_for_status()
            .json()
        )
        path = f"/v1/collections/{collection}/migrations/{migration['id']}"
        while (status := client.get(path).json())["state"] not in ("switched", "failed"):
            if time.monotonic() - started > TIMEOUT_S:
                raise RuntimeError(f"migration still {status['state']} after {TIMEOUT_S} s")
            time.sleep(0.5)
        if status["state"] == "failed":
            raise RuntimeError(f"migration failed: {status.get('error')}")
        migrated = status["total"] / (time.monotonic() - started)
        console.print(f"migration: {migrated:.0f} docs/s, overlap@10 {status['overlap']}")
    return {
        "documents": len(documents),
        "ingest_docs_per_s": round(ingest, 1),
        "migration_docs_per_s": round(migrated, 1),
        "migration / ingest": round(migrated / ingest, 2),
        "overlap_at_10": status["overlap"],
    }
