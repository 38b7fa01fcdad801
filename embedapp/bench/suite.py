"""`embedapp bench`: every speed figure in one run on one machine, side by side.

In-process references (the library's own `encode(batch_size=32)`, the same on embedapp's
CPU kernels, and embedapp's batcher),
the older design (embedapp/bench/old_design.py), embedapp end to end for a sweep of worker
settings and for each backend, 64 concurrent one-text /v1/embeddings callers, the quality
of each backend against torch float32, and the embed children's memory. A command that
prints figures, never a test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from embedapp.bench import peers
from embedapp.bench.cpu import machine
from embedapp.bench.inprocess import (
    BATCHER,
    BATCHER_CALLERS,
    CALLER_BATCH,
    ENCODE_BS32,
    batcher_in,
    in_process,
)
from embedapp.bench.quality import FP32, quality
from embedapp.bench.targets import Config, Stack, callers
from embedapp.queues import BULK_QUEUE, STORE_QUEUE, queue_stats
from embedapp.settings import Settings

AUTO = Config(dtype="auto")  # the default settings


@dataclass
class Row:
    """One measured way of embedding the corpus."""

    name: str
    kind: str
    docs_per_s: float
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_doc: dict[str, float] = field(default_factory=dict)  # end to end, by part


@dataclass
class Plan:
    """What one `embedapp bench` run measures."""

    documents: list[dict[str, str]]
    queries: list[str]
    corpus: str = "generated"  # its name, or the file's
    batch: int = 500
    concurrencies: tuple[int, ...] = (1, 2)
    prefetches: tuple[int, ...] = (1,)
    token_budgets: tuple[int, ...] = (2048, 4096)
    backends: tuple[tuple[str, str], ...] = (
        ("torch", "bfloat16"),
        ("openvino", "bfloat16"),
        ("onnx", "float32"),
        ("onnx-int8", "float32"),
    )
    old_design_documents: int = 1000
    old_design_workers: int = 2
    old_design_tasks: int = 4
    old_design_concurrency: int = 16
    callers: int = CALLER_BATCH
    caller_texts: int = 1500
    # A few callers sending lists, as a batch pipeline would: CALLERS_OF_LISTS × LIST_TEXTS.
    list_callers: tuple[int, int] = (4, 32)
    # A Python with infinity-emb (benchmarks/infinity-venv.sh): the same callers against it.
    peer_python: str | None = None
    peer_dtypes: tuple[str, ...] = ("float32", "bfloat16")
    quality_documents: int = 1000


def caller_kinds(plan: Plan) -> dict[str, tuple[int, int]]:
    """Each load of concurrent callers, by name: (callers, texts per call)."""
    lists, per_call = plan.list_callers
    return {
        f"{plan.callers} one-text callers": (plan.callers, 1),
        f"{lists} callers of {per_call} texts": (lists, per_call),
    }


def infinity_rows(plan: Plan, texts: list[str], console: Console) -> list[Row]:
    """infinity-emb under the same callers as embedapp's /v1/embeddings, in each dtype."""
    assert plan.peer_python
    version = peers.infinity_version(plan.peer_python)
    rows = []
    for dtype in plan.peer_dtypes:
        with peers.infinity(plan.peer_python, dtype) as url:
            for name, (count, per_call) in caller_kinds(plan).items():
                rate = asyncio.run(callers(url, "/embeddings", texts, count, per_call=per_call))
                config = {"dtype": dtype, "callers": count, "per_call": per_call}
                rows.append(Row(f"infinity-emb {version} {dtype}, {name}", "peer", rate, config))
                console.print(f"infinity {dtype}, {name}: {rate:.0f} docs/s")
    return rows


def run(plan: Plan, workdir: Path, console: Console) -> dict[str, Any]:
    """Measure everything in `plan`, one thing at a time; the figures."""
    held = queue_stats(Settings().broker_url, (BULK_QUEUE, STORE_QUEUE))
    if any(consumers for _, consumers in held.values()):
        raise RuntimeError(
            "another embedapp is consuming embed.bulk or store on this broker: stop it first "
            "(it would take the benchmark's jobs and share its cores)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    texts = [d["text"] for d in plan.documents]
    # The batcher in process beside torch's lower precisions and OpenVINO, end to end.
    beside = [b for b in plan.backends if b[0] == "openvino" or (b[0] == "torch" and b != FP32)]
    rates = in_process(texts, console, precisions=(("torch", "auto"), *beside))
    rows = [Row(name, "in-process", rate) for name, rate in rates.items()]

    with peers.old_design(plan.old_design_workers, plan.old_design_tasks, 64) as url:
        rate = asyncio.run(
            callers(url, "/embed", texts[: plan.old_design_documents], plan.old_design_concurrency)
        )
    rows.append(
        Row(
            "old design (uvicorn + asyncio.Queue + M tasks, one text per request)",
            "old-design",
            rate,
            {"workers": plan.old_design_workers, "tasks": plan.old_design_tasks,
             "concurrency": plan.old_design_concurrency},
        )
    )  # fmt: skip
    console.print(f"old design: {rate:.0f} docs/s")
    if plan.peer_python:
        rows += infinity_rows(plan, texts[: plan.caller_texts], console)

    default = Config()
    sweep = [
        Config(concurrency=c, prefetch=p, max_batch_tokens=t)
        for c, p, t in itertools.product(plan.concurrencies, plan.prefetches, plan.token_budgets)
    ]
    # torch's own kernels, to show what the kernel chosen at startup adds.
    configs = list(dict.fromkeys([AUTO, default, Config(cpu_matmul="default"), *sweep]))
    configs += [Config(backend=b, dtype=d) for b, d in plan.backends]
    for config in configs:
        console.print(f"end to end: {config.label}")
        with Stack(config, workdir) as stack:
            rate, rss, spent = stack.ingest(plan.documents, plan.batch)
            rows.append(Row(f"embedapp end to end, {config.label}", "end-to-end", rate,
                            asdict(config), {"child_rss_mib": rss}, spent))  # fmt: skip
            console.print(f"  {rate:.0f} docs/s, embed child peak RSS {rss:.0f} MiB")
            if config == default:
                for name, (count, per_call) in caller_kinds(plan).items():
                    rate = stack.callers(texts[: plan.caller_texts], count, per_call)
                    rows.append(Row(f"embedapp /v1/embeddings, {name}", "callers", rate,
                                    asdict(config)))  # fmt: skip
                    console.print(f"  {name}: {rate:.0f} docs/s")

    sample = texts[: plan.quality_documents]
    figures = quality(list(plan.backends), sample, plan.queries, console)
    for row in rows:
        key = (row.config.get("backend"), row.config.get("dtype"))
        if row.kind == "end-to-end" and key in figures:
            row.extra.update(figures[key])
    return report(rows, plan, console)


def report(rows: list[Row], plan: Plan, console: Console) -> dict[str, Any]:
    """The table, the acceptance ratios, and everything as one JSON-able dict."""
    by_name = {row.name: row for row in rows}
    encode = by_name[ENCODE_BS32].docs_per_s
    batcher = by_name[BATCHER].docs_per_s
    old = next(row.docs_per_s for row in rows if row.kind == "old-design")

    def e2e(backend: str, dtype: str) -> float:
        return by_name[
            f"embedapp end to end, {Config(backend=backend, dtype=dtype).label}"
        ].docs_per_s

    fp32 = e2e(*FP32)
    default = e2e(AUTO.backend, AUTO.dtype)
    ratios = {
        "end_to_end_default / encode_bs32": default / encode,
        "end_to_end_default / end_to_end_fp32": default / fp32,
        "end_to_end_fp32 / encode_bs32": fp32 / encode,
        "end_to_end_fp32 / batcher": fp32 / batcher,
    }
    auto_batcher = next((r for r in rows if r.name.startswith(batcher_in("auto"))), None)
    if auto_batcher is not None:
        ratios["end_to_end_default / batcher_default"] = default / auto_batcher.docs_per_s
    for backend, dtype in plan.backends:
        ratios[f"end_to_end_{backend}_{dtype} / end_to_end_fp32"] = e2e(backend, dtype) / fp32
        ratios[f"end_to_end_{backend}_{dtype} / old_design"] = e2e(backend, dtype) / old
        if batcher_in(dtype, backend) in by_name:
            ratios[f"end_to_end_{backend}_{dtype} / batcher_{backend}_{dtype}"] = (
                e2e(backend, dtype) / by_name[batcher_in(dtype, backend)].docs_per_s
            )
    one_text = f"{plan.callers} one-text callers"
    ours = {row.name.removeprefix("embedapp /v1/embeddings, "): row.docs_per_s
            for row in rows if row.kind == "callers"}  # fmt: skip
    if one_text in ours:
        ratios[f"{plan.callers}_callers / encode_bs32"] = ours[one_text] / encode
        ratios[f"{plan.callers}_callers / batcher_{CALLER_BATCH}_per_call"] = (
            ours[one_text] / by_name[BATCHER_CALLERS].docs_per_s
        )
    # embedapp ÷ infinity-emb, load by load, against infinity's faster dtype on that load.
    for load, rate in ours.items():
        theirs = [row.docs_per_s for row in rows if row.kind == "peer" and row.name.endswith(load)]
        if theirs:
            ratios[f"embedapp / infinity, {load}"] = rate / max(theirs)

    host = machine()
    table = Table(title=f"embedapp bench: {title(plan.corpus, len(plan.documents), host)}")
    for column in ("way", "docs/s", "× encode(32)", "× old design", "quality vs fp32", "child RSS"):
        table.add_column(column, justify="left" if column == "way" else "right")
    for row in rows:
        q = row.extra
        table.add_row(
            row.name,
            f"{row.docs_per_s:.0f}",
            f"{row.docs_per_s / encode:.2f}",
            f"{row.docs_per_s / old:.2f}",
            f"cos {q['mean_cosine']:.4f}/{q['min_cosine']:.4f} r@10 {q['recall_at_10']:.3f}"
            if "mean_cosine" in q else "",
            f"{q['child_rss_mib']:.0f} MiB" if "child_rss_mib" in q else "",
        )  # fmt: skip
    console.print(table)
    ratio_table = Table(title="ratios (same run)")
    ratio_table.add_column("ratio")
    ratio_table.add_column("value", justify="right")
    for name, value in ratios.items():
        ratio_table.add_row(name, f"{value:.2f}×")
    console.print(ratio_table)
    measured = [row for row in rows if row.cpu_ms_per_doc]
    if measured:
        parts = list(measured[0].cpu_ms_per_doc)
        cpu_table = Table(title="CPU per document, ms, by part (end to end)")
        for column in ("way", *parts, "all"):
            cpu_table.add_column(column, justify="left" if column == "way" else "right")
        for row in measured:
            spent = [row.cpu_ms_per_doc.get(part, 0.0) for part in parts]
            cpu_table.add_row(
                row.name.removeprefix("embedapp end to end, "),
                *(f"{ms:.2f}" for ms in spent),
                f"{sum(spent):.2f}",
            )
        console.print(cpu_table)
    return {
        "machine": host,
        "corpus": plan.corpus,
        "documents": len(plan.documents),
        "rows": [asdict(row) for row in rows],
        "ratios": ratios,
    }


def title(corpus: str, documents: int, host: dict[str, Any]) -> str:
    """What the figures were measured on, for a table's and a chart's title."""
    instructions = ", ".join(host["instructions"]) or "no AVX2"
    return (
        f"{documents} documents of {corpus}; {host['cores']} cores, {host['cpu']} ({instructions})"
    )


def write(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """result.json and a bar chart of docs/s (result.png) in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / "result.json", out / "result.png"
    json_path.write_text(json.dumps(result, indent=2))
    rows = result["rows"]
    colors = {"in-process": "#888888", "old-design": "#d62728", "end-to-end": "#1f77b4",
              "callers": "#2ca02c", "peer": "#ff7f0e"}  # fmt: skip
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    axes.barh(
        [row["name"] for row in rows],
        [row["docs_per_s"] for row in rows],
        color=[colors.get(row["kind"], "#555555") for row in rows],
    )
    axes.invert_yaxis()
    axes.set_xlabel("documents per second (higher is better)")
    # Over the whole picture: over the bars alone, a host's long name ran off its right edge.
    figure.suptitle(
        "embedapp bench: "
        + title(result["corpus"], result["documents"], result["machine"]).replace("; ", "\n")
    )
    figure.tight_layout()
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    return json_path, png_path
