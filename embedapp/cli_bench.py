"""`embedapp bench …`: commands that print figures against a running service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from embedapp.cli_support import settings_or_exit
from embedapp.corpus import load

bench_app = typer.Typer(help="Benchmarks: commands that print figures.", no_args_is_help=True)

Url = Annotated[str, typer.Option(help="A running embedapp gateway.")]
Corpus = Annotated[
    Path | None, typer.Option(help='JSONL of {"id","text"} lines; default: the built-in generator.')
]
Batch = Annotated[int, typer.Option(help="Documents per ingest request.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Write the figures here.")]
GATEWAY = "http://127.0.0.1:8000"


def _save(result: dict[str, Any], json_out: Path | None) -> None:
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


@bench_app.command("lanes")
def lanes(
    url: Url = GATEWAY,
    documents: Annotated[int, typer.Option(help="Bulk documents to ingest.")] = 5000,
    corpus: Corpus = None,
    probes: Annotated[int, typer.Option(help="Calls of each kind, idle and under load.")] = 50,
    batch: Batch = 250,
    json_out: JsonOut = None,
) -> None:
    """Search and /v1/embeddings latency idle vs under a bulk ingest (p50/p99 and ratios)."""
    from embedapp import bench

    result = bench.lanes(
        url, load(corpus, documents + batch), probes=probes, batch=batch, console=Console()
    )
    _save(result, json_out)


@bench_app.command("throughput")
def throughput(
    url: Url = GATEWAY,
    documents: Annotated[int, typer.Option(help="Documents to ingest.")] = 4000,
    corpus: Corpus = None,
    batch: Batch = 250,
    json_out: JsonOut = None,
) -> None:
    """End-to-end ingest docs/s vs the model's own encode and embedapp's batcher, in-process
    here (run it on an otherwise idle machine: everything shares the cores)."""
    from embedapp import bench

    settings_or_exit(queues=False)
    result = bench.throughput(url, load(corpus, documents), batch=batch, console=Console())
    _save(result, json_out)


@bench_app.command("soak")
def soak(
    url: Url = GATEWAY,
    documents: Annotated[int, typer.Option(help="Documents to ingest.")] = 5000,
    corpus: Corpus = None,
    batch: Batch = 250,
    kill_every: Annotated[float, typer.Option(help="Seconds between kills.")] = 4.0,
    kills: Annotated[int, typer.Option(help="Children to kill.")] = 10,
    json_out: JsonOut = None,
) -> None:
    """Ingest while SIGKILLing random embed worker children (on this machine): accepted vs
    stored vs duplicates; exits 1 if anything was lost or duplicated."""
    from embedapp import soak as soak_run

    settings_or_exit(queues=False)
    result = soak_run.soak(
        url,
        load(corpus, documents),
        batch=batch,
        kill_every_s=kill_every,
        kills=kills,
        console=Console(),
    )
    _save(result, json_out)
    if result["lost"] or result["duplicates"]:
        raise typer.Exit(code=1)
