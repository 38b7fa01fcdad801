"""Worker metrics: each model call is recorded; children write where the parent serves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, values

from embedapp.worker import metrics as worker_metrics


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_a_model_call_counts_its_texts_batch_and_seconds() -> None:
    names = (
        "embedapp_texts_embedded_total",
        "embedapp_model_batch_size_count",
        "embedapp_inference_seconds_sum",
    )
    before = [_sample(name) for name in names]
    worker_metrics.record_batch(7, 0.25)
    grew = [_sample(name) - was for name, was in zip(names, before, strict=True)]
    assert grew == [7, 1, pytest.approx(0.25)]


def test_the_private_directory_is_made_for_the_children_and_removed_at_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(worker_metrics.MULTIPROC_ENV, "unset")  # restored after the test
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    directory = Path(worker_metrics.use_private_directory())
    assert os.environ[worker_metrics.MULTIPROC_ENV] == str(directory) and directory.is_dir()
    assert values.ValueClass is not values.MutexValue  # samples now go to files
    worker_metrics.remove_directory()
    assert not directory.exists()


def test_shutdown_never_removes_a_directory_it_did_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(worker_metrics.MULTIPROC_ENV, str(tmp_path))
    worker_metrics.remove_directory()
    assert tmp_path.is_dir()
