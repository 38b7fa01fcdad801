"""`embedapp store migrate`: collections of the older embedded store (qdrant-client local mode)
arrive in Qdrant Edge with the same ids, vectors and payloads, nothing re-embedded."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedapp.cli.main import app
from embedapp.filters import parse
from embedapp.settings import Settings, get_settings
from embedapp.store import open_store
from embedapp.store.points import Held
from tests.unit.store.test_behaviour import _chunked, _point


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBEDAPP_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _older_store(data_dir: Path) -> None:
    old = open_store(Settings(_env_file=None, data_dir=data_dir, embedded_store="local"))
    old.ensure_collection("c", dimension=3, model="m")
    old.upsert("c", [_point(str(i), [1, i / 10, 0], lang="en") for i in range(1500)])
    old.upsert("c", _chunked("long", ["abcdef", "efghij"]))
    old.ensure_collection("empty", dimension=3, model="other")
    old.close()


def test_every_collection_moves_over_with_its_vectors_and_payloads(data_dir: Path) -> None:
    _older_store(data_dir)
    result = CliRunner().invoke(app, ["store", "migrate"])
    assert result.exit_code == 0, result.output
    assert "c: 1502 points copied" in result.output

    edge = open_store(Settings(_env_file=None, data_dir=data_dir))
    assert [(c.name, c.points, c.model) for c in edge.list_collections()] == [
        ("c", 1502, "m"),
        ("empty", 0, "other"),
    ]
    doc = edge.get_document("c", "7", with_vector=True)
    norm = (1 + 0.7**2) ** 0.5  # cosine collections store unit vectors
    assert doc.metadata == {"lang": "en"}
    assert doc.vector == pytest.approx([1 / norm, 0.7 / norm, 0], abs=1e-6)
    assert edge.get_document("c", "long").text == "abcdefghij"
    assert edge.stored_versions("c", ["7"]) == {"7": Held("h-t", 0)}
    hits = edge.search("c", [1, 0.7, 0], top_k=1, where=parse({"lang": "en"}), with_text=False)
    assert hits[0].id == "7"
    edge.close()

    again = CliRunner().invoke(app, ["store", "migrate"])  # safe to repeat: nothing doubles
    assert again.exit_code == 0, again.output
    edge = open_store(Settings(_env_file=None, data_dir=data_dir))
    assert edge.info("c").points == 1502
    edge.close()


def test_without_older_data_it_says_where_it_looked(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["store", "migrate"])
    assert result.exit_code == 2
    assert f"no qdrant-client local-mode storage at {data_dir / 'qdrant'}" in result.output
