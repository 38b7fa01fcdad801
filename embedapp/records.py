"""Documents read from a file: JSON lines, CSV, or plain text (one document per line)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO


class Format(StrEnum):
    """How a file holds its documents; `auto` goes by the file's suffix."""

    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"
    text = "text"


SUFFIXES = {".jsonl": Format.jsonl, ".ndjson": Format.jsonl, ".csv": Format.csv}


@dataclass(frozen=True)
class Record:
    """One document, with the line it came from."""

    line: int
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """A line that holds no usable document, and why."""

    line: int
    reason: str


def resolve(path: Path, fmt: Format) -> Format:
    """The format to read `path` with."""
    return SUFFIXES.get(path.suffix.lower(), Format.text) if fmt is Format.auto else fmt


def _from_mapping(
    line: int, row: dict[str, Any], id_field: str, text_field: str
) -> Record | Rejected:
    doc_id, text = row.get(id_field), row.get(text_field)
    if doc_id in (None, ""):
        return Rejected(line, f"no {id_field!r} field")
    if not isinstance(text, str) or not text.strip():
        return Rejected(line, f"no text in {text_field!r}")
    metadata = row.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    # Every other field travels along as metadata (filterable in search).
    metadata.update(
        {k: v for k, v in row.items() if k not in (id_field, text_field, "metadata") and k}
    )
    return Record(line, str(doc_id), text, metadata)


def _jsonl(stream: TextIO, id_field: str, text_field: str) -> Iterator[Record | Rejected]:
    for line, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Rejected(line, f"not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield Rejected(line, "not a JSON object")
            continue
        yield _from_mapping(line, row, id_field, text_field)


def _csv(stream: TextIO, id_field: str, text_field: str) -> Iterator[Record | Rejected]:
    reader = csv.DictReader(stream)
    missing = {id_field, text_field} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(
            f"the CSV header has no column {sorted(missing)} (--id-field/--text-field)"
        )
    for row in reader:
        yield _from_mapping(reader.line_num, row, id_field, text_field)


def _text(stream: TextIO, name: str) -> Iterator[Record | Rejected]:
    for line, raw in enumerate(stream, start=1):
        text = raw.rstrip("\n")
        if text.strip():
            # The line number is the id: a re-run of the same file finds the same documents.
            yield Record(line, f"{name}:{line}", text)


def read(
    path: Path, fmt: Format, *, id_field: str = "id", text_field: str = "text"
) -> Iterator[Record | Rejected]:
    """Every document of the file, in order (a file of any size: read as a stream)."""
    with path.open(encoding="utf-8", newline="" if resolve(path, fmt) is Format.csv else None) as f:
        match resolve(path, fmt):
            case Format.jsonl:
                yield from _jsonl(f, id_field, text_field)
            case Format.csv:
                yield from _csv(f, id_field, text_field)
            case _:
                yield from _text(f, path.name)
