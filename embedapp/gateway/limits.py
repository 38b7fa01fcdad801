"""Bounds on what one request may ask for, decided before anything is queued: the answer is
a 413 or 422 that names the setting, never a job that fails later."""

from __future__ import annotations

import json
import re
from itertools import pairwise

from embedapp.errors import InvalidRequestError, PayloadTooLargeError
from embedapp.messages import Chunking, ServedModel
from embedapp.schemas import IngestRequest
from embedapp.settings import Settings

_SPACE = re.compile(r"\s+")


def check_texts(texts: list[str], settings: Settings, field: str) -> None:
    """An interactive call's texts: how many, and how long each."""
    if len(texts) > settings.max_client_batch_size:
        raise PayloadTooLargeError(
            f"{field}: {len(texts)} texts in one call; the limit is "
            f"{settings.max_client_batch_size} (EMBEDAPP_MAX_CLIENT_BATCH_SIZE)"
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_input_chars:
            where = f"{field}.{index}" if len(texts) > 1 else field
            raise PayloadTooLargeError(
                f"{where}: {len(text)} characters; the limit is {settings.max_input_chars} "
                "(EMBEDAPP_MAX_INPUT_CHARS)"
            )


def check_ingest(body: IngestRequest, settings: Settings) -> None:
    """Documents per request, characters per text, metadata size, ids unique."""
    if len(body.documents) > settings.max_documents_per_request:
        raise PayloadTooLargeError(
            f"{len(body.documents)} documents in one request; the limit is "
            f"{settings.max_documents_per_request} (EMBEDAPP_MAX_DOCUMENTS_PER_REQUEST)"
        )
    seen: dict[str, int] = {}
    for index, doc in enumerate(body.documents):
        if len(doc.text) > settings.max_text_chars:
            raise PayloadTooLargeError(
                f"documents.{index}.text: {len(doc.text)} characters; the limit is "
                f"{settings.max_text_chars} (EMBEDAPP_MAX_TEXT_CHARS)"
            )
        metadata_bytes = len(json.dumps(doc.metadata, ensure_ascii=False).encode())
        if metadata_bytes > settings.max_metadata_bytes:
            raise PayloadTooLargeError(
                f"documents.{index}.metadata: {metadata_bytes} bytes of JSON; the limit is "
                f"{settings.max_metadata_bytes} (EMBEDAPP_MAX_METADATA_BYTES)"
            )
        if doc.id is not None:
            if doc.id in seen:
                raise InvalidRequestError(
                    f"documents.{index}.id: {doc.id!r} repeats documents.{seen[doc.id]}.id"
                )
            seen[doc.id] = index


def check_chunking(chunking: Chunking, served: ServedModel | None, settings: Settings) -> None:
    """A stride that cannot multiply a text into thousands of points, and windows the model
    can read (when a worker has told us its window; store.upsert's embed task checks too)."""
    stride = chunking.size - chunking.overlap
    if stride < settings.min_chunk_stride:
        raise InvalidRequestError(
            f"chunking: size - overlap is {stride} tokens; windows must advance at least "
            f"{settings.min_chunk_stride} (EMBEDAPP_MIN_CHUNK_STRIDE)"
        )
    if served and chunking.size > served.max_content_tokens:
        raise InvalidRequestError(
            f"chunking.size: {chunking.size} tokens; model {served.model!r} reads at most "
            f"{served.max_content_tokens} per text"
        )


def chunk_bound(text: str, chunking: Chunking | None) -> int:
    """At most how many points a document becomes. Every token holds at least one
    non-space character, so windows over that many tokens are an upper bound."""
    if chunking is None:
        return 1
    tokens = len(_SPACE.sub("", text))
    stride = chunking.size - chunking.overlap
    return 1 + -(-max(0, tokens - chunking.size) // stride)


def point_bounds(body: IngestRequest, settings: Settings) -> list[int]:
    """Each document's bound on points; 413 for one past EMBEDAPP_MAX_CHUNKS_PER_DOCUMENT."""
    bounds = [chunk_bound(doc.text, body.chunking) for doc in body.documents]
    for index, bound in enumerate(bounds):
        if bound > settings.max_chunks_per_document:
            raise PayloadTooLargeError(
                f"documents.{index}.text may make up to {bound} chunks; the limit is "
                f"{settings.max_chunks_per_document} (EMBEDAPP_MAX_CHUNKS_PER_DOCUMENT): "
                "use a larger chunking.size - chunking.overlap, or split the document"
            )
    return bounds


def job_bounds(points: list[int], settings: Settings) -> list[int]:
    """Where a request's documents are cut into jobs: about equal numbers of documents, at
    most EMBEDAPP_MAX_JOB_DOCUMENTS each, and at most EMBEDAPP_MAX_JOB_POINTS points each."""
    count = len(points)
    jobs = max(-(-count // settings.max_job_documents), -(-sum(points) // settings.max_job_points))
    bounds = [0]
    for start, end in pairwise(count * i // jobs for i in range(jobs + 1)):
        held = 0
        for index in range(start, end):
            if held and held + points[index] > settings.max_job_points:
                bounds.append(index)
                held = 0
            held += points[index]
        bounds.append(end)
    return bounds
