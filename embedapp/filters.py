"""Search filters in Qdrant's own JSON form, on metadata fields, for every store engine.

    {"must": [{"key": "year", "range": {"gte": 2020}}],
     "must_not": [{"key": "lang", "match": {"value": "fr"}}, {"is_empty": {"key": "author"}}]}

The shorthand `{"field": value or [values]}` means `must` equal to the value or any of them.
Keys are metadata fields (`a.b` for nested ones). What a client may send, checked here;
each store engine builds its own filter objects from it (embedapp.store.filtering).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    Tag,
    model_validator,
)

from embedapp.inputs import clean_text, int64

MAX_CONDITIONS = 32
MAX_VALUES = 1024
MAX_DEPTH = 3
BOOLEAN_KEYS = ("must", "should", "must_not")
SYNTAX = (
    'a condition is {"key": field, "match": {"value": v} | {"any": [v, …]} | {"except": [v, …]}}, '
    '{"key": field, "range": {"gt"|"gte"|"lt"|"lte": number or RFC 3339 date}}, '
    '{"is_empty": {"key": field}}, {"is_null": {"key": field}}, or a nested '
    '{"must"|"should"|"must_not": [conditions]}'
)

# A metadata field, or a nested one as `a.b`.
FIELD_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
FieldName = Annotated[str, StringConstraints(pattern=f"^{FIELD_NAME.pattern}$")]


def _scalar(value: Any) -> Any:
    # Checked first, with one message: a union of three types would answer with three.
    if isinstance(value, float) or not isinstance(value, str | int):
        raise ValueError("a match value is a string, an integer or a boolean")
    return clean_text(value) if isinstance(value, str) else int64(value)


def _values(value: Any) -> Any:
    if not isinstance(value, list) or not value or len(value) > MAX_VALUES:
        raise ValueError(f"a list of 1 to {MAX_VALUES} values")
    kinds = {type(_scalar(v)) for v in value}
    if len(kinds) > 1 or bool in kinds:
        raise ValueError("a list of strings, or a list of integers (not mixed)")
    return value


def _bound(value: Any) -> float | datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:  # a date or time without a zone is taken as UTC
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ValueError("a range bound is a number, or a date/time in RFC 3339 (2024-05-01T12:00:00Z)")


Scalar = Annotated[StrictStr | StrictInt | StrictBool, BeforeValidator(_scalar)]
Values = Annotated[list[StrictStr] | list[StrictInt], BeforeValidator(_values)]
Bound = Annotated[float | datetime, BeforeValidator(_bound)]


def _one_key(*names: str) -> Callable[[Any], str | None]:
    def tag(value: Any) -> str | None:
        found = [n for n in names if isinstance(value, dict) and n in value]
        return found[0] if len(found) == 1 else None

    return tag


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MatchValue(Strict):
    value: Scalar

    def sample(self) -> Any:
        return self.value


class MatchAny(Strict):
    any: Values

    def sample(self) -> Any:
        return self.any[0]


class MatchExcept(Strict):
    except_: Values = Field(alias="except")

    def sample(self) -> Any:
        return self.except_[0]


Match = Annotated[
    Annotated[MatchValue, Tag("value")]
    | Annotated[MatchAny, Tag("any")]
    | Annotated[MatchExcept, Tag("except")],
    Discriminator(
        _one_key("value", "any", "except"),
        custom_error_type="invalid_match",
        custom_error_message='match is {"value": v}, {"any": [v, …]} or {"except": [v, …]}',
    ),
]


class Range(Strict):
    gt: Bound | None = None
    gte: Bound | None = None
    lt: Bound | None = None
    lte: Bound | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Range:
        kinds = {type(b) for b in self.bounds().values()}
        if not kinds:
            raise ValueError('a range needs at least one of "gt", "gte", "lt", "lte"')
        if len(kinds) > 1:
            raise ValueError("a range's bounds are all numbers or all dates")
        return self

    def bounds(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    @property
    def dates(self) -> bool:
        return any(isinstance(b, datetime) for b in self.bounds().values())


class FieldCondition(Strict):
    key: FieldName
    match: Match | None = None
    range: Range | None = None

    @model_validator(mode="after")
    def _one_test(self) -> FieldCondition:
        if (self.match is None) == (self.range is None):
            raise ValueError(f'field {self.key!r}: give one of "match" or "range"')
        return self


class Key(Strict):
    key: FieldName


class IsEmpty(Strict):
    is_empty: Key


class IsNull(Strict):
    is_null: Key


def _condition_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if "key" in value:
        return "field"
    if any(k in value for k in BOOLEAN_KEYS):
        return "filter"
    return _one_key("is_empty", "is_null")(value)


Condition = Annotated[
    Annotated[FieldCondition, Tag("field")]
    | Annotated[IsEmpty, Tag("is_empty")]
    | Annotated[IsNull, Tag("is_null")]
    | Annotated["Filter", Tag("filter")],
    Discriminator(
        _condition_tag, custom_error_type="invalid_condition", custom_error_message=SYNTAX
    ),
]


class Filter(Strict):
    must: list[Condition] = Field(default_factory=list)
    should: list[Condition] = Field(default_factory=list)
    must_not: list[Condition] = Field(default_factory=list)

    def conditions(self) -> Iterator[Any]:
        """Every condition, nested ones included."""
        for condition in (*self.must, *self.should, *self.must_not):
            yield condition
            if isinstance(condition, Filter):
                yield from condition.conditions()

    def depth(self) -> int:
        nested = (c.depth() for part in self.parts() for c in part if isinstance(c, Filter))
        return 1 + max(nested, default=0)

    def parts(self) -> tuple[list[Any], list[Any], list[Any]]:
        return self.must, self.should, self.must_not


Filter.model_rebuild()
ANYTHING = Filter()  # a filter without conditions


def from_request(value: Any) -> Any:
    """A filter as a client sent it: the shorthand becomes `must` conditions; the result is
    checked against the bounds (conditions, nesting)."""
    if not isinstance(value, dict):
        raise ValueError("a filter is a JSON object")
    if value and not any(k in value for k in BOOLEAN_KEYS):
        must = []
        for key, wanted in value.items():
            if not isinstance(key, str) or not FIELD_NAME.fullmatch(key):
                raise ValueError(
                    f"field {key!r}: a metadata field name is letters, digits, _ and -, with . "
                    "between nested names"
                )
            if isinstance(wanted, dict):
                raise ValueError(
                    f"field {key!r}: the shorthand takes a value or a list of values; for ranges, "
                    'negation and "field exists" use Qdrant\'s form {"must": [...], "should": '
                    '[...], "must_not": [...]}'
                )
            try:
                (_values if isinstance(wanted, list) else _scalar)(wanted)
            except ValueError as exc:
                raise ValueError(f"field {key!r}: {exc}") from None
            match = {"any": wanted} if isinstance(wanted, list) else {"value": wanted}
            must.append({"key": key, "match": match})
        value = {"must": must}
    return value


def check_bounds(spec: Filter) -> Filter:
    if sum(1 for _ in spec.conditions()) > MAX_CONDITIONS:
        raise ValueError(f"a filter has at most {MAX_CONDITIONS} conditions")
    if spec.depth() > MAX_DEPTH:
        raise ValueError(f"filters nest at most {MAX_DEPTH} deep")
    return spec


def parse(value: Any) -> Filter:
    """A filter in either form, as a client or an older message holds it."""
    return check_bounds(Filter.model_validate(from_request(value)))
