"""`embedapp bench`'s report: ratios from the rows of one run, a JSON file and a PNG chart."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from embedapp.bench.suite import Plan, Row, report, write
from embedapp.bench.targets import Config, backend_named


def test_ratios_table_json_and_chart(tmp_path: Path) -> None:
    plan = Plan(
        documents=[{"id": "1", "text": "x"}] * 10,
        queries=["q"],
        corpus="docstrings",
        backends=(("torch", "bfloat16"), ("onnx-int8", "float32"), ("openvino", "bfloat16")),
    )
    int8, bf16, auto = Config(backend="onnx-int8"), Config(dtype="bfloat16"), Config(dtype="auto")
    openvino = Config(backend="openvino", dtype="bfloat16")
    rows = [
        Row("SentenceTransformer.encode(batch_size=32)", "in-process", 100.0),
        Row("embedapp batcher, in-process", "in-process", 125.0),
        Row("embedapp batcher, in-process, 64 texts per call", "in-process", 100.0),
        Row("embedapp batcher, in-process, auto (bfloat16)", "in-process", 400.0),
        Row("embedapp batcher, in-process, bfloat16", "in-process", 400.0),
        Row("embedapp batcher, in-process, openvino bfloat16", "in-process", 450.0),
        Row("old design", "old-design", 50.0),
        Row(f"embedapp end to end, {Config().label}", "end-to-end", 130.0, asdict(Config()),
            {"child_rss_mib": 600}),
        Row("embedapp /v1/embeddings, 64 one-text callers", "callers", 80.0, asdict(Config())),
        Row("embedapp /v1/embeddings, 4 callers of 32 texts", "callers", 120.0, asdict(Config())),
        Row("infinity-emb 0.0.78 float32, 64 one-text callers", "peer", 40.0),
        Row("infinity-emb 0.0.78 bfloat16, 64 one-text callers", "peer", 32.0),
        Row("infinity-emb 0.0.78 float32, 4 callers of 32 texts", "peer", 30.0),
        Row(f"embedapp end to end, {auto.label}", "end-to-end", 360.0, asdict(auto), {},
            {"bulk worker": 4.5, "store worker": 0.5, "gateway": 0.25, "rabbitmq": 0.25}),
        Row(f"embedapp end to end, {bf16.label}", "end-to-end", 390.0, asdict(bf16)),
        Row(f"embedapp end to end, {int8.label}", "end-to-end", 260.0, asdict(int8),
            {"mean_cosine": 0.991, "min_cosine": 0.97, "recall_at_10": 0.96}),
        Row(f"embedapp end to end, {openvino.label}", "end-to-end", 405.0, asdict(openvino)),
    ]  # fmt: skip
    console = Console(record=True, width=200)
    result = report(rows, plan, console)
    assert result["ratios"] == {
        "end_to_end_default / encode_bs32": 3.6,
        "end_to_end_default / end_to_end_fp32": 360 / 130,
        "end_to_end_fp32 / encode_bs32": 1.3,
        "end_to_end_fp32 / batcher": 1.04,
        "end_to_end_default / batcher_default": 0.9,
        "end_to_end_torch_bfloat16 / end_to_end_fp32": 3.0,
        "end_to_end_torch_bfloat16 / old_design": 7.8,
        "end_to_end_torch_bfloat16 / batcher_torch_bfloat16": 0.975,
        "end_to_end_onnx-int8_float32 / end_to_end_fp32": 2.0,
        "end_to_end_onnx-int8_float32 / old_design": 5.2,
        "end_to_end_openvino_bfloat16 / end_to_end_fp32": 405 / 130,
        "end_to_end_openvino_bfloat16 / old_design": 8.1,
        "end_to_end_openvino_bfloat16 / batcher_openvino_bfloat16": 0.9,
        "64_callers / encode_bs32": 0.8,
        "64_callers / batcher_64_per_call": 0.8,
        "embedapp / infinity, 64 one-text callers": 2.0,
        "embedapp / infinity, 4 callers of 32 texts": 4.0,
    }
    printed = console.export_text()
    # Figures differ 2x between hosts and corpora: every result says what it was measured on.
    host = result["machine"]
    assert result["corpus"] == "docstrings" and host["cores"] and host["cpu"]
    assert set(host["instructions"]) <= {
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_bf16",
    }
    assert f"10 documents of docstrings; {host['cores']} cores, {host['cpu']}" in printed
    assert "cos 0.9910/0.9700 r@10 0.960" in printed and "600 MiB" in printed
    assert "CPU per document, ms, by part" in printed
    assert "4.50 │         0.50 │    0.25 │     0.25 │ 5.50" in printed

    json_path, png_path = write(result, tmp_path)
    assert json.loads(json_path.read_text())["ratios"] == result["ratios"]
    assert png_path.read_bytes().startswith(b"\x89PNG")


def test_the_charts_title_fits_in_the_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.pyplot as plt

    drawn: list[Any] = []
    monkeypatch.setattr(plt, "close", drawn.append)
    machine = {
        "cores": 2,
        "cpu": "Intel(R) Xeon(R) Platinum 8480+",
        "instructions": ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"],
    }
    rows = [
        {
            "name": "SentenceTransformer.encode(batch_size=32) on embedapp's CPU kernels",
            "kind": "in-process",
            "docs_per_s": 100.0,
        }
    ]
    write({"corpus": "docstrings", "documents": 2000, "machine": machine, "rows": rows}, tmp_path)

    (figure,) = drawn
    renderer = figure.canvas.get_renderer()
    (axes,) = figure.axes
    titles = [t for t in (*figure.texts, *axes.texts, axes.title) if t.get_text()]
    assert titles
    for text in titles:
        box = text.get_window_extent(renderer)
        assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1, text.get_text()


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("torch-bfloat16", ("torch", "bfloat16")),
        ("openvino-bfloat16", ("openvino", "bfloat16")),
        ("onnx-int8", ("onnx-int8", "float32")),
        ("onnx", ("onnx", "float32")),
    ],
)
def test_bench_backends_are_named_runtime_then_precision(
    name: str, parsed: tuple[str, str]
) -> None:
    assert backend_named(name) == parsed
