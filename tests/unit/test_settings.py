from pathlib import Path

import pytest

from embedapp.settings import BUNDLED_MODEL_NAME, Settings


def test_defaults_point_at_local_services_and_the_bundled_model() -> None:
    settings = Settings(_env_file=None)
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.result_backend == "redis://127.0.0.1:6379/0"
    assert settings.model_id == BUNDLED_MODEL_NAME
    assert (Path(settings.model_source) / "modules.json").is_file()
    assert settings.embedded_qdrant_path == settings.data_dir / "qdrant-edge"
    local = Settings(_env_file=None, embedded_store="local")
    assert local.embedded_qdrant_path == local.data_dir / "qdrant"  # where older embedapp wrote
    assert settings.device == "auto"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBEDAPP_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("EMBEDAPP_QDRANT_API_KEY", "secret")
    monkeypatch.setenv("EMBEDAPP_MODEL", str(tmp_path))
    monkeypatch.setenv("EMBEDAPP_BATCH_SIZE", "8")
    settings = Settings(_env_file=None)
    assert settings.qdrant_url == "http://qdrant:6333"
    assert settings.qdrant_api_key is not None
    assert "secret" not in repr(settings)
    assert settings.model_source == str(tmp_path)
    assert settings.model_id == str(tmp_path)
    assert settings.batch_size == 8


def test_a_model_name_overrides_the_recorded_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDAPP_MODEL", "BAAI/bge-small-en-v1.5")
    monkeypatch.setenv("EMBEDAPP_MODEL_NAME", "bge-small")
    assert Settings(_env_file=None).model_id == "bge-small"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDAPP_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="batch_size"):
        Settings(_env_file=None)


def test_the_gateway_runs_a_micro_batch_per_interactive_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert Settings(_env_file=None).microbatch_slots == 6  # one child per core by default
    monkeypatch.setenv("EMBEDAPP_WORKER_CONCURRENCY", "3")
    assert Settings(_env_file=None).microbatch_slots == 3
    monkeypatch.setenv("EMBEDAPP_MICROBATCH_IN_FLIGHT", "1")
    assert Settings(_env_file=None).microbatch_slots == 1
