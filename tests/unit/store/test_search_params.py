"""How hard a search looks, on both engines: the candidates asked of the HNSW index
(`hnsw_ef`) and exact search reach the engine's own API, and exact search finds the true
nearest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from embedapp.store import Point, VectorStore, point_id
from embedapp.store.edge import EdgeStore
from embedapp.store.server import ServerStore


def _points(vectors: np.ndarray) -> list[Point]:
    return [
        Point(
            id=point_id("c", str(i)),
            vector=[float(x) for x in vector],
            payload={"doc_id": str(i), "text": "t", "metadata": {}, "content_hash": str(i)},
        )
        for i, vector in enumerate(vectors)
    ]


Asked = list[tuple[int | None, bool] | None]


def _recorded(store: VectorStore) -> Asked:
    """(hnsw_ef, exact) of each search the engine is asked for, recorded at its API (None:
    no search parameters)."""
    seen: Asked = []
    if isinstance(store, EdgeStore):
        shard = store._shard("c")

        class Recording:  # the shard is a Rust object: its methods cannot be replaced
            def query(self, request: Any) -> Any:
                seen.append((request.params.hnsw_ef, request.params.exact))
                return shard.query(request)

            def __getattr__(self, name: str) -> Any:
                return getattr(shard, name)

        store._shards["c"] = Recording()  # type: ignore[assignment]
    else:
        query_points = store.client.query_points  # type: ignore[attr-defined]

        def recording(*args: Any, search_params: Any, **kwargs: Any) -> Any:
            seen.append(search_params and (search_params.hnsw_ef, search_params.exact))
            return query_points(*args, search_params=search_params, **kwargs)

        store.client.query_points = recording  # type: ignore[attr-defined]
    return seen


def _three_searches(store: VectorStore) -> Asked:
    store.upsert("c", _points(np.eye(3)))
    asked = _recorded(store)
    store.search("c", [1.0, 0.0, 0.0], top_k=2, with_text=False, hnsw_ef=300)
    store.search("c", [1.0, 0.0, 0.0], top_k=2, with_text=False, exact=True)
    store.search("c", [1.0, 0.0, 0.0], top_k=2, with_text=False)
    return asked


def test_the_engine_is_asked_for_what_the_search_says(store: VectorStore) -> None:
    asked = _three_searches(store)
    if isinstance(store, EdgeStore) or store.server:  # type: ignore[attr-defined]
        assert asked == [(300, False), (None, True), (None, False)]
    else:  # local mode compares every point whatever it is asked (and warns if asked)
        assert asked == [None, None, None]


@pytest.mark.filterwarnings("ignore:Local mode performs exact", "ignore:Payload indexes have no")
def test_a_qdrant_server_is_asked_for_what_the_search_says(tmp_path: Path) -> None:
    # The server path's code, on a local client (no Qdrant server binary exists here).
    server = ServerStore(QdrantClient(path=str(tmp_path)), server=True)
    server.ensure_collection("c", dimension=3, model="m")
    assert _three_searches(server) == [(300, False), (None, True), (None, False)]


def test_exact_search_finds_the_true_nearest(store: VectorStore) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 3))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.upsert("c", _points(vectors))
    query = vectors[7] + 0.1
    hits = store.search("c", query.tolist(), top_k=10, with_text=False, exact=True)
    truth = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:10]
    assert [hit.id for hit in hits] == [str(i) for i in truth]
