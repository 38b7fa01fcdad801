"""Request bounds decided before anything is queued: chunk counts at their worst, and jobs
cut to bounded documents and points."""

from __future__ import annotations

import pytest

from embedapp.errors import InvalidRequestError, PayloadTooLargeError
from embedapp.gateway import limits
from embedapp.messages import Chunking, ServedModel
from embedapp.schemas import IngestRequest
from embedapp.settings import Settings

SETTINGS = Settings(
    _env_file=None, max_job_documents=4, max_job_points=10, max_chunks_per_document=6
)
MINILM = ServedModel(model="m", dimension=384, max_tokens=256, max_content_tokens=254)


def test_the_chunk_bound_counts_one_token_per_non_space_character() -> None:
    chunking = Chunking(size=8, overlap=4)
    assert limits.chunk_bound("x" * 1000, None) == 1
    assert limits.chunk_bound("a b c d", chunking) == 1  # 4 tokens at most: one window
    # 20 non-space characters: windows at 0, 4, 8, 12 (the last one reaches the end).
    assert limits.chunk_bound("ab " * 10, chunking) == 1 + -(-(20 - 8) // 4) == 4


def test_the_bound_is_never_below_what_the_chunker_makes() -> None:
    from embedapp.model.chunking import token_windows

    for tokens in range(0, 60):
        offsets = [(i, i + 1) for i in range(tokens)]
        made = token_windows(offsets, size=8, overlap=3, length=tokens)
        assert len(made) <= limits.chunk_bound("x" * tokens, Chunking(size=8, overlap=3))


def test_jobs_hold_bounded_documents_and_points_in_order() -> None:
    assert limits.job_bounds([1] * 10, SETTINGS) == [0, 3, 6, 10]  # even, as before
    assert limits.job_bounds([1] * 4, SETTINGS) == [0, 4]
    bounds = limits.job_bounds([6, 6, 1, 1, 6, 3], SETTINGS)
    parts = [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    points = [sum([6, 6, 1, 1, 6, 3][p]) for p in parts]
    assert bounds[0] == 0 and bounds[-1] == 6 and max(points) <= 10
    assert all(p.stop - p.start <= 4 for p in parts)


def test_chunking_needs_a_stride_and_a_window_the_model_reads() -> None:
    with pytest.raises(InvalidRequestError, match="EMBEDAPP_MIN_CHUNK_STRIDE"):
        limits.check_chunking(Chunking(size=40, overlap=20), MINILM, SETTINGS)
    with pytest.raises(InvalidRequestError, match="at most 254"):
        limits.check_chunking(Chunking(size=300, overlap=0), MINILM, SETTINGS)
    limits.check_chunking(Chunking(size=254, overlap=0), MINILM, SETTINGS)
    limits.check_chunking(Chunking(size=300, overlap=0), None, SETTINGS)  # no worker said yet


def test_a_document_that_may_make_too_many_chunks_is_a_413() -> None:
    body = IngestRequest(
        documents=[{"text": "short"}, {"text": "x" * 400}], chunking={"size": 64, "overlap": 0}
    )
    with pytest.raises(PayloadTooLargeError, match=r"documents\.1\.text may make up to 7 chunks"):
        limits.point_bounds(body, SETTINGS)


def test_interactive_texts_are_bounded_by_count_and_length() -> None:
    settings = Settings(_env_file=None, max_client_batch_size=2, max_input_chars=5)
    limits.check_texts(["12345", "ok"], settings, "input")
    with pytest.raises(PayloadTooLargeError, match="EMBEDAPP_MAX_CLIENT_BATCH_SIZE"):
        limits.check_texts(["a", "b", "c"], settings, "input")
    with pytest.raises(PayloadTooLargeError, match=r"input\.1: 6 characters"):
        limits.check_texts(["a", "123456"], settings, "input")
    with pytest.raises(PayloadTooLargeError, match="query: 6 characters"):
        limits.check_texts(["123456"], settings, "query")
