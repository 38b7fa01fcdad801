"""How far a backend's vectors are from torch float32's, on the same texts and queries."""

from __future__ import annotations

import gc

import numpy as np
from rich.console import Console

from embedapp.settings import Settings

FP32 = ("torch", "float32")


def quality(
    backends: list[tuple[str, str]],
    texts: list[str],
    queries: list[str],
    console: Console,
    *,
    device: str = "cpu",
) -> dict[tuple[str, str], dict[str, float]]:
    """Each backend against torch float32: cosine of every vector, recall@10 overlap of
    exact search results for the queries over the texts."""
    from embedapp.model.embedder import load_embedder

    def vectors(backend: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        settings = Settings(backend=backend, dtype=dtype, device=device, cpu_matmul="default")
        embedder = load_embedder(settings)
        found = embedder.encode(texts), embedder.encode(queries)
        del embedder
        gc.collect()
        return found

    reference_docs, reference_queries = vectors(*FP32)
    reference_top = np.argsort(-reference_queries @ reference_docs.T, axis=1)[:, :10]
    figures = {}
    for backend, dtype in backends:
        docs, found_queries = vectors(backend, dtype)
        cosines = np.sum(docs * reference_docs, axis=1)
        top = np.argsort(-found_queries @ docs.T, axis=1)[:, :10]
        overlap = np.mean(
            [len(set(a) & set(b)) / 10 for a, b in zip(top, reference_top, strict=True)]
        )
        figures[(backend, dtype)] = {
            "mean_cosine": float(cosines.mean()),
            "min_cosine": float(cosines.min()),
            "recall_at_10": float(overlap),
        }
        console.print(f"quality {backend} {dtype}: {figures[(backend, dtype)]}")
    return figures
