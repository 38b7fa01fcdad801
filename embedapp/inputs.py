"""What a client may send: text that encodes, ids that round-trip through a URL, metadata
that is plain JSON data. Each rule raises ValueError; pydantic names the field."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictStr

# Metadata nested deeper than this is refused (`{"a": {"b": ...}}` is depth 2).
MAX_METADATA_DEPTH = 8
# Qdrant stores integers as int64: a bigger one could not be stored or matched.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_ID_CHARS = 256
# Candidates a search may ask the HNSW index for: far past what recall needs (`exact` is
# there for the true nearest), and a bound on one request's work.
MAX_HNSW_EF = 4096
# C0 controls, DEL and C1 controls: invisible in a URL, a log line or a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: str) -> str:
    """Text is valid Unicode (no lone surrogate, which cannot be stored) without NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"lone surrogate at character {exc.start}: not valid Unicode") from None
    if "\x00" in value:
        raise ValueError(f"NUL character (\\u0000) at character {value.index(chr(0))}")
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be blank")
    return value


def check_doc_id(value: str) -> str:
    """Document ids: any Unicode text but control characters; `/` is an ordinary character
    (GET /v1/collections/c/documents/a/b fetches id `a/b`), but no part between slashes may
    be `.` or `..`, which URL clients resolve away before the request is sent."""
    clean_text(value)
    if match := _CONTROL.search(value):
        raise ValueError(f"control character {match.group()!r} at character {match.start()}")
    if {".", ".."} & set(value.split("/")):
        raise ValueError("`.` and `..` cannot be a part of an id between slashes")
    return value


def int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"integer {value} is outside the 64-bit range Qdrant stores")
    return value


def _check_json(value: Any, where: str, depth: int) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, str):
        _at(where, clean_text, value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        _at(where, int64, value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} is not a JSON number")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{where}.{index}", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{where}: keys must be non-empty strings")
            _at(f"{where} key {key[:40]!r}", clean_text, key)
            _check_json(item, f"{where}.{key}", depth + 1)
    else:
        raise ValueError(f"{where}: {type(value).__name__} is not JSON")


def _at(where: str, rule: Any, value: Any) -> None:
    try:
        rule(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON data: valid text, finite numbers, int64 integers, bounded nesting."""
    _check_json(value, "metadata", 0)
    return value


Text = Annotated[StrictStr, AfterValidator(clean_text), AfterValidator(not_blank)]
DocId = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(check_doc_id)
]
Metadata = Annotated[dict[str, Any], AfterValidator(check_metadata)]
