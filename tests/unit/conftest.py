"""Both engines under one fixture: Qdrant Edge (the embedded default) and qdrant-client, here
in local mode, which speaks a Qdrant server's API."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedapp.settings import Settings
from embedapp.store import VectorStore, open_store

ENGINES = ["edge", "local"]


def settings(tmp_path: Path, engine: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, embedded_store=engine)


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    store = open_store(settings(tmp_path, request.param))
    store.ensure_collection("c", dimension=3, model="m")
    yield store
    store.close()
