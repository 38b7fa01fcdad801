"""`embedapp bench accelerator`: the model's speed and quality on a GPU (or any device), in
process. A command that prints figures, never a test.

What a GPU changes is the model; the pipeline around it (gateway, RabbitMQ, the store) runs
on the CPU wherever the model runs. So this measures, on the device `auto` picks: the
library's own `encode(batch_size=32)` in float32, embedapp's batcher in float32, and the
batcher in the precision a worker child picks there (float16 on CUDA) at several token
budgets, with that precision's quality against float32. It needs only torch,
sentence-transformers, pydantic-settings and rich, so it also runs where no broker can
(benchmarks/accelerator.sh: a lent GPU machine that can fetch nothing).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from embedapp.bench.corpus import with_queries
from embedapp.bench.inprocess import BATCHER, ENCODE_BS32, batcher_in
from embedapp.bench.quality import quality
from embedapp.settings import Settings

# Texts per model call at most, for a budget: room for short texts to fill a large budget.
TOKENS_PER_TEXT = 16


def _rate(texts: list[str], run: Any) -> float:
    run(texts[:256])  # kernels chosen, caches warm
    started = time.perf_counter()
    run(texts)
    return len(texts) / (time.perf_counter() - started)


def _float32_rates(texts: list[str], device: str) -> dict[str, float]:
    import torch
    from sentence_transformers import SentenceTransformer

    from embedapp.model.embedder import load_embedder

    settings = Settings(backend="torch", dtype="float32", device=device)
    embedder = load_embedder(settings)  # first: it sets up offline loading
    # The library's defaults, but float32 weights: the files may be float16 (what a lent
    # GPU machine is carried), and float32 is the reference.
    library = SentenceTransformer(
        settings.model_source, device=embedder.device, model_kwargs={"dtype": torch.float32}
    )
    return {
        ENCODE_BS32: _rate(texts, lambda t: library.encode(t, batch_size=32)),
        BATCHER: _rate(texts, embedder.encode),
    }


def measure(
    texts: list[str], queries: list[str], *, device: str, budgets: list[int], console: Console
) -> dict[str, Any]:
    """docs/s of each way on `device`, and the picked precision's quality against float32."""
    from embedapp.model.embedder import load_embedder, pick_device

    device = pick_device(device)
    figures = _float32_rates(texts, device)
    # Picked once, by the first child's measurement; every budget then runs in it.
    picked = "auto"
    for budget in budgets:
        settings = Settings(
            backend="torch",
            dtype=picked,
            device=device,
            max_batch_tokens=budget,
            batch_size=max(256, budget // TOKENS_PER_TEXT),
        )
        lower = load_embedder(settings)
        picked = lower.precision_name
        figures[batcher_in(f"{picked}, {budget} tokens")] = _rate(texts, lower.encode)
    for name, rate in figures.items():
        console.print(f"{name}: {rate:.0f} docs/s")
    checked = quality([("torch", picked)], texts, queries, console, device=device)
    return {
        "device": device,
        "precision": picked,
        "documents": len(texts),
        "docs_per_s": figures,
        "vs_encode_bs32": {name: rate / figures[ENCODE_BS32] for name, rate in figures.items()},
        "quality": checked[("torch", picked)],
    }


def show(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"{result['documents']} documents on {result['device']}")
    table.add_column("way")
    table.add_column("docs/s", justify="right")
    table.add_column("× encode(batch_size=32)", justify="right")
    for name, rate in result["docs_per_s"].items():
        table.add_row(name, f"{rate:.0f}", f"{result['vs_encode_bs32'][name]:.2f}×")
    console.print(table)
    console.print(f"{result['precision']} against float32: {result['quality']}")


def command(
    corpus: Annotated[
        str, typer.Option(help="generated, docstrings, or a JSONL file.", metavar="NAME|FILE")
    ] = "docstrings",
    documents: Annotated[int, typer.Option(help="Texts to embed.", metavar="N")] = 20_000,
    budgets: Annotated[
        str, typer.Option(help="Token budgets of the picked precision.", metavar="LIST")
    ] = "2048,16384,65536",
    device: Annotated[
        str, typer.Option(help="auto (cuda, then mps, then cpu), or a device.", metavar="NAME")
    ] = "auto",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the figures here.", metavar="FILE")
    ] = None,
) -> None:
    """The model's speed on this machine's accelerator, in process: encode(batch_size=32)
    and embedapp's batcher in float32, and the batcher in the precision `auto` picks there
    at several token budgets, with its quality against float32."""
    console = Console()
    texts, queries = with_queries(corpus, documents)
    result = measure(
        [d["text"] for d in texts],
        queries,
        device=device,
        budgets=[int(b) for b in budgets.split(",")],
        console=console,
    )
    show(result, console)
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {json_out}")


if __name__ == "__main__":  # where embedapp's CLI cannot be imported (no broker libraries)
    typer.run(command)
