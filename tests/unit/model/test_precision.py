"""EMBEDAPP_DTYPE=auto: a child measures, and keeps a lower precision only where it is
clearly faster and its vectors agree with float32 (timings faked here, and the agreement too
where the probe itself is not what is tested)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from embedapp.model import backends, precision
from embedapp.settings import Settings
from tests.unit.model.timings import fake_timings

AUTO = Settings(_env_file=None, dtype="auto")
MODEL: Any = object()  # never run: agreement is faked


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The fakes: bfloat16 instructions present, ms per dtype, the probes' mean cosine."""
    facts: dict[str, Any] = {"float32_ms": 9.0, "low_ms": 2.5, "cosine": 0.99995, "asked": []}
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    fake_timings(
        monkeypatch,
        lambda dtype, kernel: facts["float32_ms"] if dtype == torch.float32 else facts["low_ms"],
    )

    def agreement(model: Any, dtype: torch.dtype, device: str, run_in: Any = None) -> float:
        facts["asked"].append((dtype, device))
        facts["run_in"] = run_in
        return facts["cosine"]

    monkeypatch.setattr(precision, "agreement", agreement)
    return facts


def test_auto_serves_bfloat16_on_a_cpu_where_it_is_faster_and_agrees(measured: dict) -> None:
    chosen = precision.choose(AUTO, "cpu", MODEL)
    assert chosen.dtype == torch.bfloat16 and chosen.name == "bfloat16"
    assert chosen.reason == "auto: 3.60x as fast as float32, mean cosine 0.999950 to float32"
    assert measured["asked"] == [(torch.bfloat16, "cpu")]


@pytest.mark.parametrize("low_ms", [8.0, 9.0, 14.0])  # 1.12x, 1.0x, slower
def test_auto_keeps_float32_where_bfloat16_is_not_clearly_faster(
    measured: dict, low_ms: float
) -> None:
    measured["low_ms"] = low_ms
    chosen = precision.choose(AUTO, "cpu", MODEL)
    assert chosen.dtype == torch.float32
    assert f"only {9.0 / low_ms:.2f}x as fast as float32 on this CPU (needs 1.3x)" in chosen.reason
    assert measured["asked"] == []  # no need to run the model


def test_the_kernel_is_chosen_from_the_timings_that_chose_the_precision(
    measured: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = precision.choose(AUTO, "cpu", MODEL)
    kernels = precision.cpu_kernels()
    assert set(chosen.timings) == {(d, k) for d in (torch.float32, torch.bfloat16) for k in kernels}

    def timed_again(dtypes: list[torch.dtype]) -> precision.KernelTimings:
        raise AssertionError("timed twice at startup")

    monkeypatch.setattr(precision, "kernel_timings", timed_again)
    assert backends.tune_cpu(torch.nn.Linear(4, 4), AUTO, chosen) in kernels


def test_auto_keeps_float32_where_the_vectors_disagree(measured: dict) -> None:
    measured["cosine"] = 0.9991
    chosen = precision.choose(AUTO, "cpu", MODEL)
    assert chosen.dtype == torch.float32
    assert "agree with float32 to a mean cosine of 0.999100 (needs 0.9999)" in chosen.reason


def test_auto_without_the_instructions_is_float32_without_measuring(
    measured: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    chosen = precision.choose(AUTO, "cpu", MODEL)
    assert chosen.dtype == torch.float32
    assert chosen.reason == "auto: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX)"
    assert measured["asked"] == []


def test_auto_on_cuda_is_float16_when_it_agrees(measured: dict) -> None:
    chosen = precision.choose(AUTO, "cuda", MODEL)
    assert chosen.dtype == torch.float16
    assert measured["asked"] == [(torch.float16, "cuda")]
    measured["cosine"] = 0.99
    assert precision.choose(AUTO, "cuda:1", MODEL).dtype == torch.float32


def test_auto_is_float32_on_other_backends_and_devices(measured: dict) -> None:
    assert precision.choose(AUTO, "mps", MODEL).name == "float32"
    onnx = Settings(_env_file=None, backend="onnx")
    assert precision.choose(onnx, "cpu", MODEL).reason == "the onnx backend"


def test_openvino_is_chosen_for_the_same_way_and_probed_in_its_own_runtime(
    measured: dict,
) -> None:
    def run_in(dtype: torch.dtype) -> Any:
        raise AssertionError("the fake agreement never runs the model")

    openvino = Settings(_env_file=None, backend="openvino")
    assert precision.choose(openvino, "cpu", MODEL, run_in).dtype == torch.bfloat16
    assert measured["run_in"] is run_in
    measured["low_ms"] = 8.0
    assert precision.choose(openvino, "cpu", MODEL, run_in).dtype == torch.float32


def test_the_agreement_probe_runs_the_model_in_both_precisions() -> None:
    calls: list[bool] = []

    class Model:
        def encode(self, texts: list[str], **_: Any) -> Any:
            import numpy as np

            calls.append(torch.is_autocast_enabled("cpu"))
            vectors = np.ones((len(texts), 4), dtype=np.float32) / 2
            return vectors if len(calls) == 1 else vectors * np.float32(0.999)

    assert precision.agreement(Model(), torch.bfloat16, "cpu") == pytest.approx(0.999)  # type: ignore[arg-type]
    assert calls == [False, True]


def test_the_agreement_probe_runs_the_lower_precision_where_it_is_told() -> None:
    entered: list[torch.dtype] = []

    class Model:
        def encode(self, texts: list[str], **_: Any) -> Any:
            import numpy as np

            return np.full((len(texts), 4), 0.5, dtype=np.float32)

    @contextlib.contextmanager
    def run_in(dtype: torch.dtype) -> Iterator[None]:
        entered.append(dtype)
        yield

    assert precision.agreement(Model(), torch.bfloat16, "cpu", run_in) == pytest.approx(1.0)  # type: ignore[arg-type]
    assert entered == [torch.bfloat16]


def test_the_agreement_probe_writes_no_progress_bars_into_a_workers_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    # A worker logs at INFO, where sentence-transformers draws a bar per encode call: six
    # "Batches: 0%" lines, logged as warnings, per child at each start.
    from sentence_transformers import SentenceTransformer

    from tests.tiny_model import build_tiny_model

    model = SentenceTransformer(str(build_tiny_model(tmp_path)), device="cpu")
    caplog.set_level("INFO")
    precision.agreement(model, torch.bfloat16, "cpu")
    assert "Batches" not in capfd.readouterr().err
