"""EMBEDAPP_DTYPE=auto on one machine: the first child measures and keeps its decision under
data_dir/precision; the children after it serve that decision while the conditions it was
measured under hold (the measurement itself is faked here: each call may decide otherwise)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from embedapp.model import hardware, precision
from embedapp.settings import Settings

UNDER = {"model": "aad501698b1a7a90", "backend": "torch", "device": "cpu", "threads": "2"}
TIMINGS = {(torch.float32, "default"): 9.0, (torch.bfloat16, "onednn"): 2.5}


def deciding(*dtypes: torch.dtype) -> tuple[Callable[[], precision.Precision], list[str]]:
    """A measurement that decides `dtypes` in turn (a busy machine changing its mind), and
    the decisions it made."""
    made: list[str] = []
    answers = iter(dtypes)

    def measure() -> precision.Precision:
        chosen = precision.Precision(next(answers), f"auto: measurement {len(made) + 1}", TIMINGS)
        made.append(chosen.name)
        return chosen

    return measure, made


def auto(data_dir: Path, **settings: str) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, dtype="auto", **settings)


def test_the_next_child_serves_what_the_first_measured(tmp_path: Path) -> None:
    measure, made = deciding(torch.bfloat16, torch.float32)
    first = precision.remembered(auto(tmp_path), UNDER, measure)
    second = precision.remembered(auto(tmp_path), UNDER, measure)
    assert made == ["bfloat16"]  # measured once
    assert (second.dtype, second.timings) == (first.dtype, first.timings)
    (kept,) = (tmp_path / "precision").glob("*.json")
    assert second.reason.startswith("auto: measurement 1; measured by pid ")
    assert second.reason.endswith(f"kept in {kept}")


def test_other_conditions_measure_again(tmp_path: Path) -> None:
    measure, made = deciding(torch.bfloat16, torch.float32, torch.float32)
    precision.remembered(auto(tmp_path), UNDER, measure)
    more_threads = precision.remembered(auto(tmp_path), {**UNDER, "threads": "4"}, measure)
    assert (made, more_threads.dtype) == (["bfloat16", "float32"], torch.float32)
    assert precision.remembered(auto(tmp_path), UNDER, measure).dtype == torch.bfloat16
    assert len(list((tmp_path / "precision").glob("*.json"))) == 2


SPOILED: dict[str, Callable[[str], str]] = {
    "cut short": lambda text: text[: len(text) // 2],
    "a field missing": lambda text: json.dumps(json.loads(text) | {"timings": None}),
    "not a precision": lambda text: json.dumps(json.loads(text) | {"dtype": "nn"}),
}


@pytest.mark.parametrize("spoil", SPOILED.values(), ids=SPOILED.keys())
def test_an_unreadable_decision_is_measured_again_and_replaced(
    tmp_path: Path, spoil: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    measure, made = deciding(torch.float32, torch.bfloat16)
    precision.remembered(auto(tmp_path), UNDER, measure)
    (kept,) = (tmp_path / "precision").glob("*.json")
    kept.write_text(spoil(kept.read_text()))
    with caplog.at_level(logging.WARNING):
        again = precision.remembered(auto(tmp_path), UNDER, measure)
    assert (made, again.dtype) == (["float32", "bfloat16"], torch.bfloat16)
    assert f"measuring the precision again: {kept} is unreadable" in caplog.text
    assert precision.remembered(auto(tmp_path), UNDER, measure).dtype == torch.bfloat16


def test_a_data_folder_that_cannot_be_written_measures_in_each_child(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    measure, made = deciding(torch.bfloat16, torch.float32)
    with caplog.at_level(logging.WARNING):
        first = precision.remembered(auto(blocked / "data"), UNDER, measure)
        second = precision.remembered(auto(blocked / "data"), UNDER, measure)
    assert (first.dtype, second.dtype, made) == (
        torch.bfloat16,
        torch.float32,
        ["bfloat16", "float32"],
    )
    assert caplog.text.count("the precision measured here is not kept for the next child") == 2


@pytest.mark.parametrize(
    "settings", [{"dtype": "bfloat16"}, {"dtype": "float32"}, {"backend": "onnx-int8"}]
)
def test_nothing_is_kept_where_the_settings_decide(tmp_path: Path, settings: dict) -> None:
    measure, made = deciding(torch.bfloat16, torch.bfloat16)
    chosen = Settings(_env_file=None, data_dir=tmp_path, **settings)
    precision.remembered(chosen, UNDER, measure)
    precision.remembered(chosen, UNDER, measure)
    assert made == ["bfloat16", "bfloat16"]
    assert not (tmp_path / "precision").exists()


def test_the_conditions_name_the_model_runtime_hardware_and_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    found = precision.conditions(Settings(_env_file=None, backend="openvino"), "cpu", "f1")
    assert found["model"] == "f1" and found["backend"] == "openvino" and found["threads"] == "3"
    assert found["torch"] == torch.__version__ and found["openvino"]
    assert found["hardware"].startswith(hardware.cpu().name)
    assert "openvino" not in precision.conditions(Settings(_env_file=None), "cpu", "f1")
