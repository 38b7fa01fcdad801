"""No input makes a 5xx: schemathesis against the running gateway's OpenAPI schema, and
hypothesis with the nasty inputs a schema-driven generator leaves out."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Service

pytestmark = pytest.mark.integration


def test_no_generated_input_makes_a_server_error(service: Service, tmp_path: Path) -> None:
    # The CLI, bounded in examples and time per request; seeded, so a failure can be replayed.
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--request-timeout",
            "60",
            "--seed",
            "20261125",
            "--generation-allow-x00",
            "true",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its cache of crashes stays out of the checkout
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


# What schemathesis does not send: lone surrogates (no UTF-8 body holds one, but a JSON escape
# does), control characters, NaN and Infinity, integers past 64 bits, deep nesting.
NASTY = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b[31m", "\u202e", "\ufffe", "a\u0000b"])
TEXT = st.one_of(NASTY, st.text(st.characters(exclude_categories=[]), max_size=12))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)
DEEP = st.integers(1, 40).map(lambda n: functools.reduce(lambda v, _: {"d": [v]}, range(n), 1))
METADATA = st.dictionaries(TEXT, JSON | DEEP, max_size=3)
DOCUMENT = st.fixed_dictionaries({"text": TEXT}, optional={"id": TEXT, "metadata": METADATA})
CHUNKING = st.fixed_dictionaries({"size": st.integers(-3, 10**20), "overlap": SCALAR})
INGEST = st.fixed_dictionaries(
    {"documents": st.lists(DOCUMENT, min_size=1, max_size=3)}, optional={"chunking": CHUNKING}
)
SEARCH = st.fixed_dictionaries(
    {"query": TEXT}, optional={"filter": st.dictionaries(TEXT, JSON, max_size=3), "top_k": SCALAR}
)


def _answers_without_a_server_error(service: Service, path: str, body: object) -> None:
    raw = json.dumps(body, ensure_ascii=True, allow_nan=True)  # \udxxx escapes, NaN literals
    response = service.client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (raw[:500], response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"type", "message"}


# Derandomized: the same 150 bodies every run, so that a failure replays.
FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@FUZZ
@given(body=INGEST)
def test_nasty_ingest_bodies_never_make_a_server_error(service: Service, body: object) -> None:
    _answers_without_a_server_error(service, "/v1/collections/fuzz/documents", body)


@FUZZ
@given(body=SEARCH)
def test_nasty_search_bodies_never_make_a_server_error(service: Service, body: object) -> None:
    _answers_without_a_server_error(service, "/v1/collections/fuzz/search", body)
