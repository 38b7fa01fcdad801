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

from embedapp import model
from embedapp.model import backends, packed_linear, precision
from embedapp.model.packed_linear import PackedLinear
from embedapp.settings import Settings
from tests.unit.model.timings import fake_timings

NO_MODEL: Any = None  # an explicit dtype is taken without running the model
FLOAT32_ASKED = precision.Precision(precision.FLOAT32, "EMBEDAPP_DTYPE")


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
def reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """torch float32 on its own kernels (explicitly: auto picks bfloat16 where it is faster)."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("data"),
        device="cpu",
        dtype="float32",
        cpu_matmul="default",
    )
    return model.load_embedder(settings, threads=1).encode(TEXTS)


@pytest.mark.parametrize(
    ("backend", "dtype", "mean_cosine"),
    [
        ("torch", "bfloat16", 0.999),
        ("onnx", "float32", 0.9999),
        ("onnx-int8", "float32", 0.97),
        ("openvino", "float32", 0.9999),
        ("openvino", "bfloat16", 0.999),
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
    if backend.startswith("onnx"):
        folder = backends.onnx_cache(settings)
        assert (folder / backends.ONNX_FILE).exists()  # exported once, next to the data


def test_the_onnx_export_is_reused(tmp_path: Path, offline: None) -> None:
    settings = Settings(_env_file=None, device="cpu", backend="onnx", data_dir=tmp_path)
    model.load_embedder(settings, threads=1)
    exported = backends.onnx_cache(settings) / backends.ONNX_FILE
    stamp = exported.stat().st_mtime_ns
    model.load_embedder(settings, threads=1)
    assert exported.stat().st_mtime_ns == stamp


def test_openvino_serves_bfloat16_where_the_cpu_has_it_and_keeps_one_compiled_model(
    offline: None,
) -> None:
    import torch

    settings = Settings(_env_file=None, device="cpu", backend="openvino", dtype="bfloat16")
    embedder = model.load_embedder(settings, threads=1)
    served = "float32" if precision.unsupported("bfloat16", "cpu") else "bfloat16"
    assert embedder.precision_name == served
    runtime = embedder.model[0].auto_model.forward.__self__
    assert list(runtime.compiled) == [getattr(torch, served)]
    with runtime.running_in(torch.float32):
        assert runtime.active is runtime.compiled[torch.float32]
    assert runtime.active is runtime.compiled[getattr(torch, served)]
    # Prefork children pinned by OpenVINO would share core 0.
    assert runtime.active.get_property("ENABLE_CPU_PINNING") is False


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_onednn_kernel_replaces_every_linear_layer_and_agrees(
    dtype: str, reference: np.ndarray, offline: None
) -> None:
    import torch

    if dtype == "bfloat16" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("this CPU has no bfloat16 kernels")  # the float32 case still runs
    settings = Settings(_env_file=None, device="cpu", dtype=dtype, cpu_matmul="onednn")
    embedder = model.load_embedder(settings, threads=1)
    layers = list(embedder.model.modules())
    assert not any(isinstance(layer, torch.nn.Linear) for layer in layers)
    packed = sum(isinstance(layer, PackedLinear) for layer in layers)
    assert packed == 6 * 6 + 1  # six in each of the six blocks, and the pooler
    cosines = np.sum(embedder.encode(TEXTS) * reference, axis=1)
    assert cosines.min() > (0.99999 if dtype == "float32" else 0.999)


def test_packed_linear_matches_nn_linear_on_any_batch_shape() -> None:
    import torch

    linear = torch.nn.Linear(8, 3)
    packed = PackedLinear(linear, torch.float32)
    for shape in ((5, 8), (2, 7, 8)):
        tokens = torch.randn(shape)
        with torch.inference_mode():
            assert torch.allclose(packed(tokens), linear(tokens), atol=1e-5)
    without_bias = torch.nn.Linear(8, 3, bias=False)
    with torch.inference_mode():
        assert torch.allclose(
            PackedLinear(without_bias, torch.float32)(tokens), without_bias(tokens), atol=1e-5
        )


@pytest.mark.parametrize(
    ("asked", "default_ms", "onednn_ms", "chosen"),
    [
        ("auto", 9.0, 6.0, "onednn"),
        ("auto", 6.0, 9.0, "default"),
        # Measured while the other worker started: not clearly faster, so not worth a change.
        ("auto", 15.9, 15.4, "default"),
        ("default", 9.0, 6.0, "default"),
        ("onednn", 6.0, 9.0, "onednn"),
    ],
)
def test_the_cpu_kernel_is_the_faster_unless_one_is_asked_for(
    asked: str,
    default_ms: float,
    onednn_ms: float,
    chosen: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    times = {"default": default_ms, "onednn": onednn_ms}
    fake_timings(monkeypatch, lambda dtype, kernel: times[kernel])
    layers = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    settings = Settings(_env_file=None, cpu_matmul=asked)
    assert backends.tune_cpu(layers, settings, FLOAT32_ASKED) == chosen
    assert isinstance(layers[0], PackedLinear) == (chosen == "onednn")


def test_the_kernels_take_turns_one_product_each() -> None:
    # Timed a few products in a row each, the kernel timed first often lost: a stretch of
    # noise (another child loading) fell on it alone.
    import torch

    ran: list[str] = []
    linear, packed = torch.nn.Linear.forward, PackedLinear.forward
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            torch.nn.Linear, "forward", lambda m, x: ran.append("default") or linear(m, x)
        )
        patch.setattr(PackedLinear, "forward", lambda m, x: ran.append("onednn") or packed(m, x))
        timings = packed_linear.products_ms([(torch.float32, False), (torch.float32, True)], 3)
    assert ran == ["default", "onednn"] * 3
    assert all(0 < ms < 1000 for ms in timings)


def test_onednn_asked_for_where_torch_lacks_it_says_so_and_runs_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    monkeypatch.setattr(packed_linear, "available", lambda: False)
    fake_timings(monkeypatch, lambda dtype, kernel: 5.0)
    layer = torch.nn.Linear(4, 4)
    with caplog.at_level("WARNING"):
        chosen = backends.tune_cpu(
            layer, Settings(_env_file=None, cpu_matmul="onednn"), FLOAT32_ASKED
        )
    assert chosen == "default"
    assert "EMBEDAPP_CPU_MATMUL=onednn: this torch has no oneDNN packed linear" in caplog.text


def test_bfloat16_without_cpu_support_says_so_and_runs_float32(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    settings = Settings(_env_file=None, dtype="bfloat16")
    with caplog.at_level("WARNING"):
        chosen = precision.choose(settings, "cpu", NO_MODEL)
    assert "no bfloat16 instructions" in caplog.text
    assert chosen.dtype == torch.float32 and chosen.name == "float32"
    with backends.autocast(chosen.dtype, "cpu")():
        assert not torch.is_autocast_enabled("cpu")


def test_bfloat16_slower_than_float32_on_this_cpu_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    fake_timings(monkeypatch, lambda dtype, kernel: 14.0 if dtype == torch.bfloat16 else 8.5)
    settings = Settings(_env_file=None, dtype="bfloat16")
    chosen = precision.choose(settings, "cpu", NO_MODEL)
    with caplog.at_level("WARNING"):
        backends.tune_cpu(torch.nn.Linear(4, 4), settings, chosen)
    assert "takes 14.0 ms on this CPU against 8.5 ms in float32" in caplog.text
    with backends.autocast(chosen.dtype, "cpu")():  # what was asked for still runs
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_a_product_is_timed_in_each_dtype_on_each_kernel() -> None:
    import torch

    # oneDNN's bfloat16 path needs the instructions (choose never asks for it without
    # them); torch's default kernel emulates bfloat16 anywhere.
    has_bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    dtypes = [torch.float32, torch.bfloat16] if has_bf16 else [torch.float32]
    timings = precision.kernel_timings(dtypes)
    assert set(timings) == {(d, k) for d in dtypes for k in precision.cpu_kernels()}
    assert all(0 < ms < 1000 for ms in timings.values())
    (emulated,) = packed_linear.products_ms([(torch.bfloat16, False)], rounds=1)
    assert 0 < emulated < 1000


def test_float16_is_refused_on_cpu_and_used_on_cuda(caplog: pytest.LogCaptureFixture) -> None:
    import torch

    settings = Settings(_env_file=None, dtype="float16")
    with caplog.at_level("WARNING"):
        assert precision.choose(settings, "cpu", NO_MODEL).dtype == torch.float32
    assert "float16 is not supported on cpu" in caplog.text
    assert precision.choose(settings, "cuda", NO_MODEL).dtype == torch.float16


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EMBEDAPP_BACKEND": "tensorrt"},
            "EMBEDAPP_BACKEND: Input should be 'torch', 'onnx', 'onnx-int8' or",
        ),
        (
            {"EMBEDAPP_DTYPE": "int4"},
            "EMBEDAPP_DTYPE: Input should be 'auto', 'float32', 'bfloat16' or",
        ),
        (
            {"EMBEDAPP_BACKEND": "onnx", "EMBEDAPP_DTYPE": "bfloat16"},
            "EMBEDAPP_DTYPE=bfloat16 does not apply to EMBEDAPP_BACKEND=onnx, which takes "
            "auto, float32",
        ),
        (
            {"EMBEDAPP_BACKEND": "openvino", "EMBEDAPP_DTYPE": "float16"},
            "EMBEDAPP_DTYPE=float16 does not apply to EMBEDAPP_BACKEND=openvino, which takes "
            "auto, float32, bfloat16",
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


def test_openvino_is_imported_without_reporting_home(tmp_path: Path) -> None:
    """OpenVINO's package reports each import to Google Analytics, keeping its state under
    $HOME, unless opted out there: the backend imports it with that switched off."""
    subprocess.run(
        [sys.executable, "-c", "import embedapp.model.openvino_cpu"],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=120,
    )
    assert list(tmp_path.iterdir()) == []
