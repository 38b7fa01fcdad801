"""The fingerprint of a model's files: what decides whether two vectors may be compared."""

from pathlib import Path

from embedapp.model.files import fingerprint


def _model(folder: Path, weights: bytes) -> Path:
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 4}')
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_the_same_files_give_the_same_fingerprint_wherever_they_lie(tmp_path: Path) -> None:
    one = _model(tmp_path / "one", b"weights")
    other = _model(tmp_path / "elsewhere", b"weights")
    assert fingerprint(str(one)) == fingerprint(str(other))
    assert len(fingerprint(str(one))) == 16


def test_changed_weights_or_configuration_change_it(tmp_path: Path) -> None:
    model = _model(tmp_path / "m", b"weights")
    before = fingerprint(str(model))
    (model / "model.safetensors").write_bytes(b"weights, retrained")
    retrained = fingerprint(str(model))
    (model / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    assert len({before, retrained, fingerprint(str(model))}) == 3


def test_what_torch_never_reads_does_not_count(tmp_path: Path) -> None:
    model = _model(tmp_path / "m", b"weights")
    before = fingerprint(str(model))
    (model / "README.md").write_text("# a model card")
    (model / "onnx").mkdir()
    (model / "onnx" / "model.onnx").write_bytes(b"an export")
    assert fingerprint(str(model)) == before
