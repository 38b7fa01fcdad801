"""Filters in Qdrant's form, the same answers on both engines; one clear message per mistake."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from embedapp.filters import parse
from embedapp.store import Point, VectorStore, point_id

BOOKS = [  # id, year, published, lang, author (absent on some), rating (null on one)
    ("a", 1999, "1999-03-01T00:00:00Z", "en", "Ann", 4),
    ("b", 2005, "2005-07-15T12:30:00Z", "fr", None, 5),
    ("c", 2012, "2012-01-01", "en", "Bo", None),
    ("d", 2020, "2020-11-30T23:00:00+01:00", "de", "Cy", 2),
    ("e", 2024, "2024-02-29T08:00:00Z", "en", None, 3),
]


def _points() -> list[Point]:
    points = []
    for i, (doc_id, year, published, lang, author, rating) in enumerate(BOOKS):
        metadata: dict[str, Any] = {"year": year, "published": published, "lang": lang}
        metadata["rating"] = rating
        metadata["draft"] = doc_id == "b"
        if author:
            metadata["author"] = author
        payload = {"doc_id": doc_id, "text": doc_id, "metadata": metadata, "model": "m"}
        payload["content_hash"] = doc_id
        vector = [1.0, 0.1 * i, 0.0]  # "a" nearest to the query, "e" furthest
        points.append(Point(id=point_id("c", doc_id), vector=vector, payload=payload))
    return points


CASES = [
    ({"lang": "en"}, "ace"),
    ({"lang": ["fr", "de"]}, "bd"),
    ({"draft": True}, "b"),
    ({"must_not": [{"key": "draft", "match": {"value": True}}]}, "acde"),
    ({"must": [{"key": "year", "range": {"gte": 2005, "lt": 2020}}]}, "bc"),
    ({"must": [{"key": "year", "range": {"gt": 2005.5}}]}, "cde"),
    ({"must": [{"key": "published", "range": {"gte": "2012-01-01", "lt": "2020-11-30T21:30:00Z"}}]},
     "c"),
    ({"must": [{"key": "published", "range": {"gte": "2020-11-30T22:00:00Z"}}]}, "de"),
    ({"must_not": [{"key": "lang", "match": {"value": "en"}}]}, "bd"),
    ({"must": [{"key": "lang", "match": {"except": ["en", "de"]}}]}, "b"),
    ({"must_not": [{"is_empty": {"key": "author"}}]}, "acd"),  # the field exists
    ({"must": [{"is_empty": {"key": "author"}}]}, "be"),
    ({"must": [{"is_null": {"key": "rating"}}]}, "c"),
    ({"should": [{"key": "year", "match": {"value": 1999}},
                 {"key": "lang", "match": {"value": "de"}}]}, "ad"),
    ({"must": [{"key": "lang", "match": {"value": "en"}},
               {"should": [{"key": "year", "range": {"lt": 2000}},
                           {"key": "year", "range": {"gt": 2020}}]}]}, "ae"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "expected"), CASES)
def test_each_kind_of_condition_keeps_the_same_documents_on_both_engines(
    store: VectorStore, spec: dict[str, Any], expected: str
) -> None:
    store.upsert("c", _points())
    hits = store.search("c", [1.0, 0.0, 0.0], top_k=10, where=parse(spec), with_text=False)
    assert "".join(sorted(h.id for h in hits)) == expected
    again = store.search("c", [1.0, 0.0, 0.0], top_k=10, where=parse(spec), with_text=False)
    assert again == hits  # with the payload index made on first use too


def test_score_threshold_drops_the_hits_below_it(store: VectorStore) -> None:
    store.upsert("c", _points())
    hits = store.search("c", [1.0, 0.0, 0.0], top_k=10, score_threshold=0.99, with_text=False)
    assert [h.id for h in hits] == ["a", "b"]  # cosine 1.0 and 0.995; "c" is 0.981
    assert all(h.score >= 0.99 for h in hits)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"lang": {"$ne": "en"}}, "field 'lang': the shorthand takes a value or a list of values; "
         "for ranges, negation and \"field exists\" use Qdrant's form"),
        ({"n": 1.5}, "field 'n': a match value is a string, an integer or a boolean"),
        ({"must": [{"key": "n", "$ne": 3}]}, "Extra inputs are not permitted"),
        ({"must": [{"$ne": {"n": 3}}]}, 'a condition is {"key": field, "match"'),
        ({"must": [{"key": "n", "match": {"eq": 3}}]}, 'match is {"value": v}, {"any"'),
        ({"must": [{"key": "n", "range": {}}]}, 'a range needs at least one of "gt"'),
        ({"must": [{"key": "n", "range": {"gt": 1, "lt": "2024-01-01"}}]},
         "a range's bounds are all numbers or all dates"),
        ({"must": [{"key": "n", "range": {"gt": "last week"}}]},
         "a range bound is a number, or a date/time in RFC 3339"),
        ({"must": [{"key": "n"}]}, "field 'n': give one of \"match\" or \"range\""),
        ({"must": [{"key": "n", "match": {"value": 1}}] * 33}, "at most 32 conditions"),
        ({"must": [{"must": [{"must": [{"must": []}]}]}]}, "nest at most 3 deep"),
    ],
)  # fmt: skip
def test_a_mistake_gets_one_message_that_says_what_to_write(spec: dict, says: str) -> None:
    with pytest.raises((ValidationError, ValueError)) as caught:
        parse(spec)
    errors = caught.value.errors() if isinstance(caught.value, ValidationError) else [caught.value]
    assert len(errors) == 1, errors
    message = errors[0]["msg"] if isinstance(errors[0], dict) else str(errors[0])
    assert says in message, message
