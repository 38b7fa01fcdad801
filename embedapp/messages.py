"""Messages tasks pass each other over RabbitMQ (JSON), validated on receipt.

Vectors travel as float32 little-endian bytes, base64 (a quarter of a JSON float list): the
encoding OpenAI's `encoding_format="base64"` uses, so it passes through unchanged."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, model_validator


class Chunking(BaseModel):
    """Split long texts into windows of `size` tokens that share `overlap` tokens."""

    size: int = Field(ge=8, le=8192, description="Tokens per chunk.")
    overlap: int = Field(0, ge=0, description="Tokens shared by neighbouring chunks.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Chunking:
        if self.overlap >= self.size:
            raise ValueError("overlap must be smaller than size")
        return self


class DocumentIn(BaseModel):
    """A document with its final id; the embed task fills in its content hash."""

    id: str
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    content_hash: str = ""


class Counts(BaseModel):
    """What an earlier pass of the same job already did."""

    embedded: int = 0
    unchanged: int = 0
    truncated: list[str] = Field(default_factory=list)


class IngestJob(BaseModel):
    """One ingest request on its way: gateway → embed_documents → store.upsert."""

    job_id: str
    collection: str
    model: str
    # Acceptance order (the gateway's stamp): the store never lets a lower one replace a
    # higher one. 0: a job from before versions.
    version: int = 0
    documents: list[DocumentIn]
    chunking: Chunking | None = None
    # False on a second pass, for documents the hash index wrongly called unchanged.
    use_index: bool = True
    carried: Counts = Field(default_factory=Counts)
    # A copy for one version of the collection (embedapp.store.versions): written there only.
    # Set for the other versions' share of a write, and for a migration's backfill.
    target: str | None = None
    migration: str | None = None  # the migration whose backfill this is

    def summary(self) -> str:
        """How Flower shows the job's arguments: never megabytes of text."""
        return f"{len(self.documents)} documents for {self.collection!r} (job {self.job_id})"


# How Flower shows a store.upsert's argument, which the chain fills with vectors.
EMBEDDED_JOB_REPR = "(vectors of the job embedded before)"
# Results that carry vectors are shown this short in Flower: the leading fields only.
RESULT_REPR_MAX = 120


class Chunk(BaseModel):
    """Where a chunk sits in its document."""

    index: int
    count: int
    start: int
    end: int


class PointIn(BaseModel):
    """One vector to store, with what its payload needs."""

    doc_id: str
    text: str
    metadata: dict[str, Any]
    content_hash: str
    chunk: Chunk | None = None
    # float32 little-endian, base64: a quarter of the bytes of a JSON float list.
    vector_b64: str


class EmbeddedJob(BaseModel):
    """What the embed task hands store.upsert."""

    job_id: str
    collection: str
    model: str
    precision: str = "float32"  # what the vectors were computed in (older messages: float32)
    fingerprint: str = ""  # of the model's files (older messages: not known)
    normalized: bool = True
    target: str | None = None  # as IngestJob's
    migration: str | None = None
    version: int = 0
    dimension: int
    chunking: Chunking | None
    total: int
    embedded: int
    unchanged: int
    truncated: list[str]
    points: list[PointIn]
    # Documents skipped as unchanged: the store checks that it really holds them.
    skipped: list[DocumentIn]


class EmbeddedTexts(BaseModel):
    """Interactive embeddings: vectors in input order, and each text's size in tokens."""

    model: str
    max_tokens: int  # the model's window; longer texts were cut to it
    fingerprint: str = ""  # of the model's files
    token_counts: list[int]  # untruncated, special tokens included
    vectors_b64: list[str]  # last: Flower's short result repr stops before it

    @property
    def tokens(self) -> int:
        """Tokens the model read (what OpenAI's usage reports)."""
        return sum(min(count, self.max_tokens) for count in self.token_counts)

    @property
    def truncated(self) -> list[int]:
        """Indices of texts longer than the model's window."""
        return [i for i, count in enumerate(self.token_counts) if count > self.max_tokens]

    def part(self, start: int, end: int) -> EmbeddedTexts:
        """The texts start..end of a micro-batch: one caller's share."""
        return self.model_copy(
            update={
                "token_counts": self.token_counts[start:end],
                "vectors_b64": self.vectors_b64[start:end],
            }
        )


class ServedModel(BaseModel):
    """What an embed child records in the result backend once its model is loaded, so that
    the gateway, which never loads the model, can check requests against it."""

    model: str
    dimension: int
    max_tokens: int  # the window, special tokens included
    max_content_tokens: int  # what is left of it for a text
    precision: str = "float32"  # of the child that recorded it last
    fingerprint: str = ""  # of the model's files

    @staticmethod
    def key(model_id: str) -> str:
        return f"embedapp:model:{model_id}"


def migration_done_key(migration_id: str) -> str:
    """Where the store counts the documents a migration has written (in the result backend:
    progress only; the migration itself is recorded in the store)."""
    return f"embedapp:migration:{migration_id}:done"


def encode_vector(vector: Sequence[float] | np.ndarray) -> str:
    """float32 little-endian bytes, base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(data: str) -> list[float]:
    """Inverse of encode_vector."""
    return np.frombuffer(base64.b64decode(data), dtype="<f4").tolist()
