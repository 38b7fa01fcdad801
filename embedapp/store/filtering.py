"""A search filter (embedapp.filters) as each engine's own objects, and the payload index
each filtered field is best served by. One builder for both engines: each supplies a `Kit`
of its constructors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from embedapp.filters import FieldCondition, Filter, IsEmpty, IsNull, MatchAny, MatchValue

PREFIX = "metadata."  # where a document's metadata sits in a point's payload

IndexKind = Literal["keyword", "integer", "bool", "float", "datetime"]
INDEX_KINDS: dict[type, IndexKind] = {str: "keyword", int: "integer", bool: "bool"}


@dataclass(frozen=True)
class Kit:
    """One engine's constructors; keys come with the payload prefix already on."""

    filter: Callable[[list[Any], list[Any], list[Any]], Any]  # must, should, must_not
    value: Callable[[str, Any], Any]
    any: Callable[[str, list[Any]], Any]
    except_: Callable[[str, list[Any]], Any]
    range: Callable[[str, dict[str, float]], Any]
    dates: Callable[[str, dict[str, str]], Any]  # RFC 3339 strings
    is_empty: Callable[[str], Any]
    is_null: Callable[[str], Any]


def build(spec: Filter, kit: Kit) -> Any:
    """The engine's filter object; None for a filter without conditions."""
    if not any(spec.parts()):
        return None
    must, should, must_not = ([_one(c, kit) for c in part] for part in spec.parts())
    return kit.filter(must, should, must_not)


def _one(c: Any, kit: Kit) -> Any:
    if isinstance(c, Filter):
        return build(c, kit)
    if isinstance(c, IsEmpty):
        return kit.is_empty(PREFIX + c.is_empty.key)
    if isinstance(c, IsNull):
        return kit.is_null(PREFIX + c.is_null.key)
    key = PREFIX + c.key
    if c.range is not None:
        bounds = c.range.bounds()
        if c.range.dates:
            return kit.dates(key, {k: v.isoformat() for k, v in bounds.items()})
        return kit.range(key, bounds)
    if isinstance(c.match, MatchValue):
        return kit.value(key, c.match.value)
    if isinstance(c.match, MatchAny):
        return kit.any(key, c.match.any)
    return kit.except_(key, c.match.except_)


def indexed_fields(spec: Filter) -> dict[str, IndexKind]:
    """The payload index each field's first condition is best served by (by payload key)."""
    found: dict[str, IndexKind] = {}
    for c in spec.conditions():
        if not isinstance(c, FieldCondition) or PREFIX + c.key in found:
            continue
        if c.range is not None:
            found[PREFIX + c.key] = "datetime" if c.range.dates else "float"
        elif c.match is not None:
            found[PREFIX + c.key] = INDEX_KINDS[type(c.match.sample())]
    return found
