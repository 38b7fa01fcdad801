"""What a client may send: valid Unicode without NUL, ids that survive a URL, JSON data."""

from __future__ import annotations

import pytest

from embedapp.inputs import check_doc_id, check_metadata, clean_text


@pytest.mark.parametrize(
    ("value", "reason"),
    [("a\ud800", "lone surrogate"), ("\udfff", "lone surrogate"), ("a\x00", "NUL")],
)
def test_text_that_cannot_be_stored_is_refused(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        clean_text(value)


@pytest.mark.parametrize("doc_id", ["a/b", "a//b", "/x", "x/", "..a", "ü💥", "a b", "%2F"])
def test_ids_with_slashes_and_any_unicode_are_fine(doc_id: str) -> None:
    assert check_doc_id(doc_id) == doc_id


@pytest.mark.parametrize("doc_id", [".", "..", "a/./b", "a/..", "tab\there", "del\x7f", "c1\x85"])
def test_ids_a_url_or_a_terminal_would_mangle_are_refused(doc_id: str) -> None:
    with pytest.raises(ValueError):
        check_doc_id(doc_id)


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"x": float("nan")}, r"metadata\.x: nan"),
        ({"x": [1, float("inf")]}, r"metadata\.x\.1: inf"),
        ({"x": 2**63}, "64-bit"),
        ({"x": {"y": "\ud800"}}, r"metadata\.x\.y: lone surrogate"),
        ({"\x00": 1}, "NUL"),
        ({"": 1}, "non-empty"),
        ({"d": [[[[[[[[[1]]]]]]]]]}, "deeper than 8"),
    ],
)
def test_metadata_is_plain_json_data(metadata: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_metadata(metadata)


def test_ordinary_metadata_passes() -> None:
    metadata = {"lang": "en", "n": -(2**63), "f": 1.5, "tags": ["a"], "ok": None, "d": {"e": True}}
    assert check_metadata(metadata) == metadata
