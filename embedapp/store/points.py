"""What a store holds and gives back: points, a document's held version, points read back,
and a chunked document's text put together again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from embedapp.schemas import StoredChunk
from embedapp.store.identity import exact_id


@dataclass(frozen=True)
class Point:
    """One point to write: its id, vector and payload."""

    id: str
    vector: list[float]
    payload: dict[str, Any]


def under_exact_id(collection: str, point: Point) -> Point:
    """The point under the id its payload gives it (it may hold an id of an older scheme)."""
    return Point(exact_id(collection, point.payload), point.vector, point.payload)


@dataclass(frozen=True)
class Held:
    """What the store holds of a document: its content hash (None: deleted) and the version
    (acceptance order) of the write or delete that put it there; 0 before versions."""

    content_hash: str | None
    version: int


@dataclass(frozen=True)
class Found:
    """A point read back: its payload, and its vector or score where asked for."""

    payload: dict[str, Any]
    vector: list[float] | None = None
    score: float = 0.0


def reassemble(chunks: Sequence[StoredChunk]) -> str:
    """The document's text from its overlapping chunks (each an exact slice of it)."""
    text, covered = "", chunks[0].start
    for chunk in chunks:
        if chunk.end > covered:
            text += chunk.text[max(0, covered - chunk.start) :]
            covered = chunk.end
    return text
