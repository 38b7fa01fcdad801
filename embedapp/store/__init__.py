"""Vector storage: the VectorStore interface, its engines (Qdrant Edge embedded, Qdrant server
or qdrant-client's local mode) and the content-hash index. Embedded storage admits one
process: only the store worker opens it."""

from __future__ import annotations

import logging

from embedapp.settings import Settings
from embedapp.store.base import VectorStore
from embedapp.store.identity import point_id
from embedapp.store.points import Point

__all__ = ["Point", "VectorStore", "open_store", "point_id"]

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> VectorStore:
    """The configured Qdrant server, else the embedded store under the data dir."""
    from qdrant_client import QdrantClient

    from embedapp.store import versions
    from embedapp.store.server import ServerStore

    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        server = ServerStore(QdrantClient(url=settings.qdrant_url, api_key=api_key), server=True)
        # Several store children may write to a server.
        server.catalog_guard = versions.shared_guard(settings.result_backend)
        return server
    path = settings.embedded_qdrant_path
    path.mkdir(parents=True, exist_ok=True)
    if settings.embedded_store == "local":
        return ServerStore(QdrantClient(path=str(path)), server=False)
    from embedapp.store.edge import EdgeStore
    from embedapp.store.migrate import has_local_data

    store = EdgeStore(path, index_after_points=settings.index_after_points)
    older = settings.data_dir / "qdrant"
    if not store.names() and has_local_data(older):
        log.warning(
            "%s holds collections of the older embedded store (qdrant-client local mode); "
            "stop the store worker and run `embedapp store migrate` to copy them into %s "
            "(nothing is re-embedded)",
            older,
            path,
        )
    return store
