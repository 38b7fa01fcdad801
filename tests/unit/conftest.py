"""Both engines under one fixture: Qdrant Edge (the embedded default) and qdrant-client, here
in local mode, which speaks a Qdrant server's API; and a data folder of its own for each test
that does not name one."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedapp.settings import Settings
from embedapp.store import VectorStore, open_store

ENGINES = ["edge", "local"]


@pytest.fixture(autouse=True)
def _own_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Never the user's: a test's faked precision kept there would be served by the next run.
    monkeypatch.setenv("EMBEDAPP_DATA_DIR", str(tmp_path_factory.mktemp("data")))


def settings(tmp_path: Path, engine: str) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, embedded_store=engine)


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    store = open_store(settings(tmp_path, request.param))
    store.ensure_collection("c", dimension=3, model="m")
    yield store
    store.close()
