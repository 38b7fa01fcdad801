"""`embedapp bench …`: commands that print figures against a running service."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from embedapp.bench import accelerator
from embedapp.bench.corpus import load, with_queries
from embedapp.bench.targets import backend_named
from embedapp.cli.support import console, settings_or_exit

bench_app = typer.Typer(
    rich_markup_mode=None,
    help="Benchmarks: commands that print figures. Without a subcommand: the whole speed "
    "benchmark (in-process references, the old design, end to end for a sweep of settings "
    "and every backend, quality, memory) as a table, result.json and result.png.",
)

Url = Annotated[str, typer.Option(help="A running embedapp gateway.", metavar="URL")]
Corpus = Annotated[
    str | None,
    typer.Option(
        help="generated (the default: made-up sentences), docstrings (paragraphs of Python's "
        'own docstrings: real text), or a JSONL file of {"id", "text", ...} lines (other fields '
        "become metadata, as in embedapp ingest).",
        metavar="NAME|FILE",
    ),
]
Batch = Annotated[int, typer.Option(help="Documents per ingest request.", metavar="N")]
JsonOut = Annotated[
    Path | None, typer.Option("--json", help="Write the figures here.", metavar="FILE")
]
GATEWAY = "http://127.0.0.1:8000"


def _save(result: dict[str, Any], json_out: Path | None) -> None:
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


def _on_a_private_stack(
    name: str, run: Callable[[Path], dict[str, Any]], json_out: Path | None
) -> None:
    """A benchmark on a private stack in a folder of its own; its figures printed and saved."""
    with tempfile.TemporaryDirectory(prefix=f"embedapp-bench-{name}-") as workdir:
        result = run(Path(workdir))
    print(json.dumps(result, indent=2), flush=True)
    _save(result, json_out)


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


@bench_app.callback(invoke_without_command=True)
def suite(
    context: typer.Context,
    corpus: Corpus = None,
    documents: Annotated[
        int, typer.Option(help="Documents per end-to-end run.", metavar="N")
    ] = 3000,
    batch: Batch = 500,
    concurrency: Annotated[
        str, typer.Option(help="Sweep: embed children.", metavar="LIST")
    ] = "1,2",
    prefetch: Annotated[
        str, typer.Option(help="Sweep: prefetch multipliers.", metavar="LIST")
    ] = "1",
    max_batch_tokens: Annotated[
        str, typer.Option(help="Sweep: token budgets.", metavar="LIST")
    ] = "2048,4096",
    backends: Annotated[
        str, typer.Option(help="Besides torch float32, end to end and quality.", metavar="LIST")
    ] = "torch-bfloat16,openvino-bfloat16,onnx,onnx-int8",
    out: Annotated[
        Path, typer.Option(help="Where result.json and result.png go.", metavar="FOLDER")
    ] = Path("bench-results"),
    peer_python: Annotated[
        str | None,
        typer.Option(
            help="A Python with infinity-emb (bash benchmarks/infinity-venv.sh builds one): "
            "the same callers against it, in float32 and bfloat16.",
            metavar="PYTHON",
        ),
    ] = None,
) -> None:
    """The whole speed benchmark (run it on an otherwise idle machine, nothing else consuming
    the embed queues: it starts embedapp stacks of its own, one after another)."""
    if context.invoked_subcommand is not None:
        return
    from embedapp.bench import peers as bench_peers
    from embedapp.bench import suite as bench_suite

    settings_or_exit()
    missing = [m for m in ("matplotlib", "aiohttp") if importlib.util.find_spec(m) is None]
    if missing:  # before minutes of measuring
        console.print(
            f"[red]error:[/] the chart and the callers need {', '.join(missing)}: "
            "pip install 'embedapp[bench]' (in a checkout: pip install '.[bench]')"
        )
        raise typer.Exit(code=2)
    texts, queries = with_queries(corpus, documents)
    plan = bench_suite.Plan(
        documents=texts,
        queries=queries,
        corpus=Path(corpus).name if corpus else "generated",
        batch=batch,
        concurrencies=_numbers(concurrency),
        prefetches=_numbers(prefetch),
        token_budgets=_numbers(max_batch_tokens),
        backends=tuple(backend_named(b.strip()) for b in backends.split(",") if b.strip()),
        peer_python=peer_python,
    )
    wide = Console(width=max(Console().width, 150))
    try:
        if peer_python:  # before minutes of measuring
            bench_peers.infinity_version(peer_python)
        result = bench_suite.run(plan, out / "runs", wide)
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    for path in bench_suite.write(result, out):
        wide.print(f"wrote {path}")


@bench_app.command("lanes")
def lanes(
    url: Url = GATEWAY,
    documents: Annotated[int, typer.Option(help="Bulk documents to ingest.", metavar="N")] = 5000,
    corpus: Corpus = None,
    probes: Annotated[
        int, typer.Option(help="Calls of each kind, idle and under load.", metavar="N")
    ] = 50,
    batch: Batch = 250,
    json_out: JsonOut = None,
) -> None:
    """Search and /v1/embeddings latency idle vs under a bulk ingest (p50/p99 and ratios)."""
    from embedapp.bench import inprocess as bench

    result = bench.lanes(
        url, load(corpus, documents + batch), probes=probes, batch=batch, console=Console()
    )
    _save(result, json_out)


@bench_app.command("throughput")
def throughput(
    url: Url = GATEWAY,
    documents: Annotated[int, typer.Option(help="Documents to ingest.", metavar="N")] = 4000,
    corpus: Corpus = None,
    batch: Batch = 250,
    json_out: JsonOut = None,
) -> None:
    """End-to-end ingest docs/s vs the model's own encode and embedapp's batcher, in-process
    here (run it on an otherwise idle machine: everything shares the cores)."""
    from embedapp.bench import inprocess as bench

    settings_or_exit(queues=False)
    result = bench.throughput(url, load(corpus, documents), batch=batch, console=Console())
    _save(result, json_out)


@bench_app.command("soak")
def soak(
    url: Url = GATEWAY,
    documents: Annotated[int, typer.Option(help="Documents to ingest.", metavar="N")] = 5000,
    corpus: Corpus = None,
    batch: Batch = 250,
    kill_every: Annotated[
        float, typer.Option(help="Seconds between kills.", metavar="SECONDS")
    ] = 4.0,
    kills: Annotated[int, typer.Option(help="Children to kill.", metavar="N")] = 10,
    restart_broker_after: Annotated[
        float | None,
        typer.Option(
            help="Stop RabbitMQ (rabbitmqctl, this machine) this many seconds in, for 10 s.",
            metavar="SECONDS",
        ),
    ] = None,
    broker_node: Annotated[
        str | None,
        typer.Option(
            help="The node to restart (rabbitmqctl -n), e.g. one of a cluster's.", metavar="NODE"
        ),
    ] = None,
    json_out: JsonOut = None,
) -> None:
    """Ingest while SIGKILLing random embed worker children (on this machine), and restarting
    RabbitMQ once if asked: accepted vs stored vs duplicates; exits 1 if anything was lost or
    duplicated."""
    from embedapp.bench import soak as soak_run

    settings_or_exit(queues=False)
    result = soak_run.soak(
        url,
        load(corpus, documents),
        batch=batch,
        kill_every_s=kill_every,
        kills=kills,
        restart_broker_after_s=restart_broker_after,
        broker_node=broker_node,
        console=Console(),
    )
    _save(result, json_out)
    if result["lost"] or result["duplicates"]:
        raise typer.Exit(code=1)


@bench_app.command("store")
def store(
    points: Annotated[
        int, typer.Option(help="Points written into Qdrant Edge.", metavar="N")
    ] = 100_000,
    local_points: Annotated[
        int,
        typer.Option(
            help="At most this many into qdrant-client's local mode (slow); 0: skip.", metavar="N"
        ),
    ] = 100_000,
    json_out: JsonOut = None,
) -> None:
    """The vector store alone: clustered 384-d vectors with payloads written through embedapp's
    store, each engine in a process of its own; one JSON object per engine (needs no service)."""
    from embedapp.bench import store as store_run

    console.print(
        f"writing {points:,} points into Edge, then up to {local_points:,} in local mode…"
    )
    results = []
    for result in store_run.each_engine(points, local_points):
        results.append(result)
        print(json.dumps(result), flush=True)
    _save({"store": results}, json_out)


@bench_app.command("scale")
def scale(
    points: Annotated[
        int, typer.Option(help="Points already in the collection.", metavar="N")
    ] = 1_000_000,
    documents: Annotated[
        int, typer.Option(help="Documents ingested into each collection.", metavar="N")
    ] = 3000,
    corpus: Corpus = None,
    batch: Batch = 500,
    json_out: JsonOut = None,
) -> None:
    """End to end at scale, on a private stack: ingest docs/s into a collection that already
    holds --points points vs into an empty one, and HTTP search latency idle and during ingest
    (run it on an otherwise idle machine)."""
    from embedapp.bench import scale as scale_run
    from embedapp.bench.corpus import generate

    settings_or_exit()
    queries = [d["text"] for d in generate(scale_run.PROBES, seed=1)]
    _on_a_private_stack(
        "scale",
        lambda workdir: scale_run.run(
            load(corpus, documents), queries, points=points, batch=batch, workdir=workdir,
            console=console,
        ),
        json_out,
    )  # fmt: skip


@bench_app.command("migration")
def migration(
    documents: Annotated[
        int, typer.Option(help="Documents ingested, then migrated.", metavar="N")
    ] = 3000,
    corpus: Corpus = None,
    batch: Batch = 500,
    json_out: JsonOut = None,
) -> None:
    """What moving a collection to another model costs: docs/s of a migration beside the
    ingest of the same documents, on a private stack (run it on an otherwise idle machine)."""
    from embedapp.bench import migration as migration_run

    settings_or_exit()
    _on_a_private_stack(
        "migration",
        lambda workdir: migration_run.run(
            load(corpus, documents), batch=batch, workdir=workdir, console=console
        ),
        json_out,
    )


bench_app.command("accelerator")(accelerator.command)
