"""The model side: the embedder (loaded once per worker child), its backends and CPU kernels,
token-budget batching and chunking. The only package that imports torch, and only inside
functions, so that importing it (the worker parent) never pulls torch in."""

from embedapp.model.embedder import (
    Embedder,
    Progress,
    content_hash,
    get_embedder,
    init_embedder,
    load_embedder,
    pick_device,
    preload,
    threads_per_child,
)

__all__ = [
    "Embedder",
    "Progress",
    "content_hash",
    "get_embedder",
    "init_embedder",
    "load_embedder",
    "pick_device",
    "preload",
    "threads_per_child",
]
