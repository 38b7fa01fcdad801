"""`embedapp bench accelerator` on this machine's CPU, with a tiny model: the figures it
writes (their size is the GPU's business; here only what they are)."""

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from embedapp.bench.inprocess import BATCHER, ENCODE_BS32
from embedapp.cli.main import app
from embedapp.model import precision
from embedapp.settings import Settings
from tests.tiny_model import build_tiny_model


def test_the_model_is_measured_in_each_way_with_its_quality(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDAPP_MODELS", str(build_tiny_model(tmp_path)))
    # `auto` measures, and a busy machine may decide otherwise from one child to the next:
    # the precision is picked once, then every budget runs in it. The first pick is one this
    # CPU can run (bfloat16 needs AVX512-BF16 or AMX); the later ones differ from it.
    first = "bfloat16" if precision.unsupported("bfloat16", "cpu") is None else "float32"
    later = "float32" if first == "bfloat16" else "bfloat16"
    real_choose, picks = precision.choose, iter([first, later, later])

    def changing_mind(settings: Settings, device: str, model: Any) -> precision.Precision:
        if settings.dtype != "auto":
            return real_choose(settings, device, model)
        return precision.Precision(getattr(torch, next(picks)), "auto, faked")

    monkeypatch.setattr(precision, "choose", changing_mind)
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "accelerator",
            "--corpus",
            "generated",
            "--documents",
            "300",
            "--budgets",
            "512,4096",
            "--device",
            "cpu",
            "--json",
            str(out),
        ],  # fmt: skip
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["device"] == "cpu" and figures["documents"] == 300
    picked = figures["precision"]
    assert picked == first
    assert list(figures["docs_per_s"]) == [
        ENCODE_BS32,
        BATCHER,
        f"{BATCHER}, {picked}, 512 tokens",
        f"{BATCHER}, {picked}, 4096 tokens",
    ]
    assert all(rate > 0 for rate in figures["docs_per_s"].values())
    assert figures["vs_encode_bs32"][ENCODE_BS32] == 1.0
    assert 0.99 <= figures["quality"]["mean_cosine"] <= 1.0001
    assert "× encode(batch_size=32)" in result.output
