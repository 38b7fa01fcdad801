"""Reading documents from JSON lines, CSV and plain text."""

from pathlib import Path

import pytest

from embedapp.records import Format, Record, Rejected, read


def test_jsonl_takes_id_text_and_the_rest_as_metadata(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(
        '{"id": 1, "text": "one", "lang": "en", "metadata": {"a": 1}}\n'
        "\n"
        "{broken\n"
        '{"id": "x", "body": "no text field"}\n'
        '["not", "an", "object"]\n'
    )
    assert list(read(path, Format.auto)) == [
        Record(1, "1", "one", {"a": 1, "lang": "en"}),
        Rejected(3, "not JSON (Expecting property name enclosed in double quotes)"),
        Rejected(4, "no text in 'text'"),
        Rejected(5, "not a JSON object"),
    ]


def test_csv_with_named_columns(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text('key,body,topic\nk1,"a, quoted text",rivers\nk2,,none\n')
    got = list(read(path, Format.auto, id_field="key", text_field="body"))
    assert got == [
        Record(2, "k1", "a, quoted text", {"topic": "rivers"}),
        Rejected(3, "no text in 'body'"),
    ]
    with pytest.raises(ValueError, match="no column"):
        list(read(path, Format.csv))


def test_text_is_one_document_per_line_with_stable_ids(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("first\n\n  \nsecond line\n")
    assert list(read(path, Format.auto)) == [
        Record(1, "notes.txt:1", "first"),
        Record(4, "notes.txt:4", "second line"),
    ]
