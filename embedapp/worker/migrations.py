"""Moving a collection to another model while it keeps answering: store tasks, each short.

A migration adds a version of the collection for the new model (embedapp.store.versions),
which every write reaches from then on. Step after step it sends the stored documents, by a
page at a time, through the new model's durable bulk queue (the chunking they were stored
with, the version they were accepted at), then compares the two versions document by
document and sends again what differs, until they agree. It then checks how the new model
ranks a sample, and switches: one write of the catalog. Its record lives in the store, so a
crash anywhere resumes where it stopped: the step's message is acknowledged only after it
ran, and sending a page twice only writes the same points twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from typing import Any

from embedapp import queues
from embedapp.celery_app import celery_app
from embedapp.errors import ConflictError, NotFoundError
from embedapp.messages import Chunking, DocumentIn, EmbeddedTexts, IngestJob, decode_vector
from embedapp.schemas import StoredChunk
from embedapp.store import VectorStore, versions
from embedapp.store.points import reassemble
from embedapp.worker.copies import send_ingest_job
from embedapp.worker.migration_record import ACTIVE, done, mark, migration_record, save, switch_to
from embedapp.worker.store import RETRIES, owned_store

log = logging.getLogger(__name__)

PAGE = 256  # points read per backfill step
# Points read per page of a comparison, and what of each.
SCAN_PAGE = 2048
HELD_FIELDS = ("doc_id", "version", "chunk")
WAIT_S = 1.0  # between catch-up checks while jobs are in flight
STALLED_S = 60.0  # no job finished for this long: compare and send again what is missing
MAX_ROUNDS = 5  # comparisons that still find differences before the migration fails
SAMPLE = 50  # documents whose self-retrieval the quality check compares
# Chunked documents stored before the chunking was recorded with them.
FALLBACK_CHUNKING = Chunking(size=256, overlap=32)


def _next_step(collection: str, migration_id: str, delay: float = 0.0) -> None:
    celery_app.send_task(queues.MIGRATION_STEP, args=(collection, migration_id), countdown=delay)


def _held(store: VectorStore, physical: str) -> dict[str, int]:
    """Each stored document's version (read from its only point, or its chunk 0)."""
    found: dict[str, int] = {}
    offset: str | None = None
    while True:
        # The fields it needs only, not the texts: this scans every point, in the store child.
        points, offset = store.scroll_page(
            physical, offset, SCAN_PAGE, with_vector=False, fields=HELD_FIELDS
        )
        for point in points:
            if point.payload.get("chunk", {}).get("index", 0) == 0:
                found[point.payload["doc_id"]] = int(point.payload.get("version", 0))
        if offset is None:
            return found


@celery_app.task(name=queues.MIGRATION_START, **RETRIES)
def start(
    collection: str,
    model: str,
    dimension: int,
    fingerprint: str,
    *,
    min_overlap: float | None,
    switch: str,
) -> dict[str, Any]:
    """Add the new model's version and begin filling it; the migration's record."""
    store = owned_store()
    source = versions.serving(store, collection)
    if not store.exists(source):
        raise NotFoundError(f"no collection {collection!r}")
    current = versions.entry(store, collection) or {}
    running = current.get("migration")
    if running and running["state"] in (*ACTIVE, "ready"):
        raise ConflictError(
            f"migration {running['id']} of collection {collection!r} is {running['state']}: "
            "let it finish, or roll it back"
        )
    held_model = store.describe(source)[0]
    if held_model == model:
        raise ConflictError(f"collection {collection!r} already holds {model!r} vectors")
    if len(versions.live(store, collection)) > 1:
        raise ConflictError(
            f"collection {collection!r} still keeps a retired version: delete it first "
            f"(DELETE /v1/collections/{collection}/migrations/{running and running['id']})"
        )
    target = versions.add(
        store, collection, model=model, dimension=dimension, fingerprint=fingerprint
    )
    migration = {
        "id": uuid.uuid4().hex,
        "collection": collection,
        "model": model,
        "from_model": held_model,
        "source": source,
        "target": target,
        "state": "copying",
        "cursor": None,
        "total": len(_held(store, source)),
        "sent": 0,
        "rounds": 0,
        "started": time.time(),
        "min_overlap": min_overlap,
        "switch": switch,
    }
    try:
        save(store, collection, migration, seen=mark(running))
    except ConflictError:
        versions.retire(store, collection, target)  # another start got there first
        raise
    _next_step(collection, migration["id"])
    log.info("migration %s: %s from %s to %s", migration["id"], collection, held_model, model)
    return migration


def _documents(store: VectorStore, source: str, points: list[Any]) -> list[tuple[Any, ...]]:
    """(version, chunking, document) of each document whose first point is among these."""
    found = []
    for point in points:
        payload = point.payload
        chunk = payload.get("chunk")
        if chunk and chunk["index"] != 0:
            continue  # read with its chunk 0
        text = payload["text"]
        chunking = None
        if chunk:
            parts = store.document_points(source, payload["doc_id"], with_vector=False)
            parts.sort(key=lambda p: p.payload["chunk"]["index"])
            text = reassemble(
                [StoredChunk(text=p.payload["text"], **p.payload["chunk"]) for p in parts]
            )
            recorded = payload.get("chunking")
            chunking = Chunking(**recorded) if recorded else FALLBACK_CHUNKING
        document = DocumentIn(id=payload["doc_id"], text=text, metadata=payload.get("metadata", {}))
        found.append((int(payload.get("version", 0)), chunking, document))
    return found


def _send(collection: str, migration: dict[str, Any], found: list[tuple[Any, ...]]) -> None:
    """Jobs for these documents on the new model's lane, one per (version, chunking)."""
    groups: dict[tuple[int, str], list[DocumentIn]] = defaultdict(list)
    chunkings: dict[str, Chunking | None] = {}
    for version, chunking, document in found:
        key = chunking.model_dump_json() if chunking else ""
        chunkings[key] = chunking
        groups[(version, key)].append(document)
    for (version, key), documents in groups.items():
        send_ingest_job(
            IngestJob(
                job_id=str(uuid.uuid4()),
                collection=collection,
                model=migration["model"],
                version=version,
                documents=documents,
                chunking=chunkings[key],
                use_index=False,
                target=migration["target"],
                migration=migration["id"],
            )
        )


@celery_app.task(name=queues.MIGRATION_STEP, **RETRIES)
def step(collection: str, migration_id: str) -> None:
    """One step: a page sent, or one look at whether the new version has caught up."""
    store = owned_store()
    try:
        migration = migration_record(store, collection, migration_id)
    except NotFoundError:
        return  # deleted, or replaced by a later migration
    if migration["state"] == "copying":
        points, following = store.scroll_page(
            migration["source"], migration["cursor"], PAGE, with_vector=False
        )
        found = _documents(store, migration["source"], points)
        _send(collection, migration, found)
        state = "copying" if following else "catching_up"
        sent = migration["sent"] + len(found)
        save(store, collection, migration, cursor=following, sent=sent, state=state,
              last_done=0, last_progress=time.time())  # fmt: skip
        _next_step(collection, migration_id)
    elif migration["state"] == "catching_up":
        _catch_up(store, collection, migration)


def _catch_up(store: VectorStore, collection: str, migration: dict[str, Any]) -> None:
    written = done(migration["id"])
    if written > migration["last_done"]:
        save(store, collection, migration, last_done=written, last_progress=time.time())
    in_flight = written < migration["sent"]
    if in_flight and time.time() - migration["last_progress"] < STALLED_S:
        _next_step(collection, migration["id"], WAIT_S)
        return
    # Every job has come back (or some never will): compare, in this store task, so that no
    # write lands between the comparison and a switch.
    source, target = _held(store, migration["source"]), _held(store, migration["target"])
    behind = {doc: version for doc, version in source.items() if target.get(doc, -1) < version}
    gone = {doc: version + 1 for doc, version in target.items() if doc not in source}
    if gone:  # deleted from the source while its copy was on its way
        store.delete_older(migration["target"], gone)
    # Writes keep coming while clients use the collection, and each one's copy for the new
    # model takes a moment: a document stored after the previous comparison may be behind
    # only because its copy is on its way. What was stored before it must be there.
    mark = migration.get("watermark")
    watermark = max(source.values(), default=0)
    settled = sorted(doc for doc, version in behind.items() if mark is None or version <= mark)
    if mark is None or settled:
        rounds = migration["rounds"] + (1 if settled else 0)
        if rounds > MAX_ROUNDS:
            save(store, collection, migration, state="failed", failures=len(settled),
                  error=f"{len(settled)} documents could not be embedded by "
                  f"{migration['model']!r} (the dead-letter queue holds their jobs)")  # fmt: skip
            return
        # Sent again (the same points written twice at worst); the copies ahead of them in
        # the new model's queue have landed by the time these have.
        pages = [settled[i : i + PAGE] for i in range(0, len(settled), PAGE)]
        found = [
            item
            for page in pages
            for item in _documents(
                store, migration["source"], _first_points(store, migration["source"], page)
            )
        ]
        _send(collection, migration, found)
        save(store, collection, migration, rounds=rounds, sent=migration["sent"] + len(found),
              last_progress=time.time(), watermark=watermark)  # fmt: skip
        _next_step(collection, migration["id"], WAIT_S)
        return
    overlap = _overlap(store, migration)
    enough = migration["min_overlap"] is None or overlap >= migration["min_overlap"]
    save(store, collection, migration, state="ready", overlap=overlap, caught_up=time.time())
    if migration["switch"] == "auto" and enough:
        switch_to(store, collection, migration)


def _first_points(store: VectorStore, physical: str, doc_ids: list[str]) -> list[Any]:
    """The only point, or chunk 0, of each document."""
    found = []
    for doc_id in doc_ids:
        points = store.document_points(physical, doc_id, with_vector=False)
        found += [p for p in points if p.payload.get("chunk", {}).get("index", 0) == 0]
    return found


def _query_vectors(texts: list[str], model: str) -> list[list[float]]:
    """The texts embedded by a model's interactive workers (waited for: another queue)."""
    sent = celery_app.send_task(queues.EMBED_TEXTS, args=(texts,), kwargs={"model_id": model})
    embedded = EmbeddedTexts.model_validate(sent.get(timeout=120, disable_sync_subtasks=False))
    return [decode_vector(v) for v in embedded.vectors_b64]


def _overlap(store: VectorStore, migration: dict[str, Any]) -> float:
    """Mean overlap@10 of self-retrieval: each sampled document's opening words as a query,
    searched in the old version by the old model and in the new one by the new model."""
    points, _ = store.scroll_page(migration["source"], None, SAMPLE, with_vector=False)
    queries = [" ".join(p.payload["text"].split()[:32]) for p in points]
    if not queries:
        return 1.0
    old = _query_vectors(queries, migration["from_model"])
    new = _query_vectors(queries, migration["model"])
    overlaps = []
    for before, after in zip(old, new, strict=True):
        a = {h.id for h in store.search(migration["source"], before, top_k=10, with_text=False)}
        b = {h.id for h in store.search(migration["target"], after, top_k=10, with_text=False)}
        overlaps.append(len(a & b) / max(1, min(10, len(a))))
    return round(sum(overlaps) / len(overlaps), 4)
