"""The benchmark corpora: generated, Python's docstrings, or any JSONL as `embedapp ingest`
reads it."""

from __future__ import annotations

import json
from pathlib import Path

from embedapp.bench.corpus import load
from embedapp.schemas import IngestRequest


def test_docstrings_are_real_paragraphs_in_a_fixed_order() -> None:
    first = load("docstrings", 300)
    assert first == load("docstrings", 300)
    assert len({d["text"] for d in first}) == 300
    assert all(len(d["text"]) >= 40 and d["metadata"]["source"] for d in first)


def test_every_corpus_is_a_valid_ingest_body(tmp_path: Path) -> None:
    source = tmp_path / "quotes.jsonl"
    lines = [{"id": "q1", "text": "To be or not to be.", "source": "Hamlet", "year": 1603}]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    mine = load(str(source), 10)
    assert mine == [{"id": "q1", "text": "To be or not to be.",
                     "metadata": {"source": "Hamlet", "year": 1603}}]  # fmt: skip
    for corpus in (None, "generated", "docstrings", str(source)):
        IngestRequest.model_validate({"documents": load(corpus, 50)})  # no 422 for any
