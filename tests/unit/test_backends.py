"""Each backend loads from local files with no network, matches torch float32, and a
backend or dtype that does not exist stops startup with a clear message."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from embedapp import backends, model
from embedapp.settings import Settings

TEXTS = [
    "Qdrant stores vectors.",
    "A much longer sentence about rivers, engines and markets " * 3,
    "word " * 400,  # past the model's window
]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connection off this machine fails the test: loading must need no hub."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            raise AssertionError(f"a backend load tried to reach {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    embedder = model.load_embedder(Settings(_env_file=None, device="cpu"), threads=1)
    return embedder.encode(TEXTS)


@pytest.mark.parametrize(
    ("backend", "dtype", "mean_cosine"),
    [
        ("torch", "bfloat16", 0.999),
        ("onnx", "float32", 0.9999),
        ("onnx-int8", "float32", 0.97),
    ],
)
def test_each_backend_loads_offline_and_agrees_with_float32(
    backend: str,
    dtype: str,
    mean_cosine: float,
    reference: np.ndarray,
    offline: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = Settings(
        _env_file=None,
        device="cpu",
        backend=backend,
        dtype=dtype,
        data_dir=tmp_path_factory.getbasetemp() / "backends",
    )
    embedder = model.load_embedder(settings, threads=1)
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == reference.shape
    assert np.sum(vectors * reference, axis=1).mean() > mean_cosine
    if backend != "torch":
        folder = backends.onnx_cache(settings)
        assert (folder / backends.ONNX_FILE).exists()  # exported once, next to the data


def test_the_onnx_export_is_reused(tmp_path: Path, offline: None) -> None:
    settings = Settings(_env_file=None, device="cpu", backend="onnx", data_dir=tmp_path)
    model.load_embedder(settings, threads=1)
    exported = backends.onnx_cache(settings) / backends.ONNX_FILE
    stamp = exported.stat().st_mtime_ns
    model.load_embedder(settings, threads=1)
    assert exported.stat().st_mtime_ns == stamp


def test_bfloat16_without_cpu_support_says_so_and_runs_float32(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    settings = Settings(_env_file=None, dtype="bfloat16")
    with caplog.at_level("WARNING"):
        context = backends.precision(settings, "cpu")
    assert "no bfloat16 instructions" in caplog.text
    with context():
        assert not torch.is_autocast_enabled("cpu")


def test_bfloat16_slower_than_float32_on_this_cpu_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(backends, "_matmul_ms", lambda dtype: 14.0 if dtype else 8.5)
    with caplog.at_level("WARNING"):
        context = backends.precision(Settings(_env_file=None, dtype="bfloat16"), "cpu")
    assert "takes 14.0 ms on this CPU against 8.5 ms in float32" in caplog.text
    with context():  # what was asked for still runs
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_a_matmul_is_timed_in_each_dtype() -> None:
    import torch

    assert 0 < backends._matmul_ms(None) < 1000
    assert 0 < backends._matmul_ms(torch.bfloat16) < 1000


def test_float16_is_refused_on_cpu_and_used_on_cuda(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, dtype="float16")
    with caplog.at_level("WARNING"):
        backends.precision(settings, "cpu")
    assert "float16 is not supported on cpu" in caplog.text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EMBEDAPP_BACKEND": "tensorrt"}, "EMBEDAPP_BACKEND: Input should be 'torch', 'onnx' or"),
        ({"EMBEDAPP_DTYPE": "int4"}, "EMBEDAPP_DTYPE: Input should be 'float32', 'bfloat16' or"),
        (
            {"EMBEDAPP_BACKEND": "onnx", "EMBEDAPP_DTYPE": "bfloat16"},
            "EMBEDAPP_DTYPE=bfloat16 applies to the torch backend",
        ),
    ],
)
def test_an_unknown_backend_or_dtype_stops_the_worker_with_a_clear_message(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    done = subprocess.run(
        [sys.executable, "-m", "embedapp", "worker"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
