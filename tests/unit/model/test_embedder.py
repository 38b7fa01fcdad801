import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embedapp import model
from embedapp.model import embedder as embedder_module
from embedapp.model.embedder import _taking_turns
from embedapp.settings import Settings


def test_threads_are_split_between_children() -> None:
    assert model.threads_per_child(2, cores=2) == 1
    assert model.threads_per_child(1, cores=8) == 8
    assert model.threads_per_child(4, cores=2) == 1


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert model.pick_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert model.pick_device("auto") == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert model.pick_device("auto") == "cpu"
    assert model.pick_device("cuda:1") == "cuda:1"


def test_content_hash_depends_on_text_and_model() -> None:
    assert model.content_hash("a", "m") == model.content_hash("a", "m")
    assert model.content_hash("a", "m") != model.content_hash("a", "n")
    assert model.content_hash("a", "m") != model.content_hash("b", "m")


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> model.Embedder:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings(_env_file=None, data_dir=data_dir, batch_size=4, device="cpu")
    return model.load_embedder(settings, threads=1)


def test_encode_keeps_the_callers_order_and_reports_progress(embedder: model.Embedder) -> None:
    # Mixed lengths, every fifth text far past the model's 256-token window (cut by both).
    texts = [f"text {i} " + "word " * (37 * i % 50 + (400 if i % 5 == 0 else 0)) for i in range(40)]
    done: list[int] = []
    vectors = embedder.encode(texts, progress=done.append)
    expected = embedder.model.encode(texts, normalize_embeddings=True)
    assert vectors.shape == (40, embedder.dimension)
    cosines: Any = np.sum(vectors * expected, axis=1)
    assert cosines.min() > 0.9999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert done == sorted(done) and done[-1] == 40 and len(done) > 1


def test_children_take_turns_to_start_and_a_read_only_folder_does_not_stop_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    inside = threading.Event()

    def other_child() -> None:
        with _taking_turns(settings):
            inside.set()

    _waits_for_its_turn(settings, other_child, inside)

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with _taking_turns(Settings(_env_file=None, data_dir=blocked / "data")):
        pass
    assert "starting without taking turns" in caplog.text


def test_a_child_loads_its_model_only_in_its_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timed while the others loaded their models, a child served the slower kernel.
    import transformers  # noqa: F401 (imported already: the wait below is for the turn alone)

    settings = Settings(_env_file=None, data_dir=tmp_path, device="cpu")
    loading = threading.Event()

    def load_model(*args: Any, **kwargs: Any) -> Any:
        loading.set()
        raise RuntimeError("loaded: enough for this test")

    monkeypatch.setattr(embedder_module, "_load_model", load_model)

    def other_child() -> None:
        with pytest.raises(RuntimeError, match="enough for this test"):
            model.load_embedder(settings)

    _waits_for_its_turn(settings, other_child, loading)


def _waits_for_its_turn(
    settings: Settings, other_child: Callable[[], None], started: threading.Event
) -> None:
    """`other_child`, run while this test holds the turn, sets `started` only once the turn
    is released."""
    with _taking_turns(settings):
        # flock is per open file: a second one, as in another child, waits for the first.
        child = threading.Thread(target=other_child)
        child.start()
        assert not started.wait(0.5)
    assert started.wait(5)
    child.join()
