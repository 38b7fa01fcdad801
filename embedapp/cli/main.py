"""`embedapp`: run the whole service on one machine, or each part alone."""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from importlib.metadata import version
from typing import Annotated

import typer

from embedapp.cli.bench import bench_app
from embedapp.cli.dlq import dlq_app
from embedapp.cli.flower import flower_child
from embedapp.cli.flower import where as flower_login
from embedapp.cli.ingest import ingest
from embedapp.cli.keys import keys_app
from embedapp.cli.preflight import check_management_api
from embedapp.cli.store import store_app
from embedapp.cli.support import CELERY, Command, console, load_settings, settings_or_exit
from embedapp.queues import STORE_QUEUE, embed_queues
from embedapp.settings import ModelSpec, Settings
from embedapp.supervise import Child, Supervisor

app = typer.Typer(rich_markup_mode=None, help=__doc__, no_args_is_help=True, add_completion=False)


def _version(shown: bool) -> None:
    if shown:
        print(f"embedapp {version('embedapp')}")
        raise typer.Exit()


@app.callback()
def main(
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run the whole service on one machine, or each part alone."""


Concurrency = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        "-c",
        help="Prefork children (default: EMBEDAPP_WORKER_CONCURRENCY, "
        "else one per core). Each loads the model once.",
        metavar="N",
    ),
]


def _worker_argv(
    settings: Settings, *, queues: str | None, name: str, concurrency: int | None
) -> list[str]:
    # Without --queues a worker serves the embed queues (see embedapp.worker): the same
    # command the README gives for adding embed workers on other hosts.
    argv = ["worker", "--hostname", f"{name}@%h", "--loglevel", settings.log_level]
    if queues:
        argv += ["--queues", queues]
    concurrency = concurrency or settings.worker_concurrency
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    return argv


@app.command()
def gateway(
    host: Annotated[
        str | None, typer.Option(help="Default: EMBEDAPP_GATEWAY_HOST.", metavar="HOST")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Default: EMBEDAPP_GATEWAY_PORT.", metavar="PORT")
    ] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.", metavar="N")] = 1,
) -> None:
    """Run the HTTP gateway (never loads the model)."""
    from embedapp.gateway import server

    settings = settings_or_exit()
    # uvicorn configures its own loggers only; embedapp's warnings (failed publishes, Redis
    # errors) need a handler too.
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server.run(
        settings,
        host=host or settings.gateway_host,
        port=port or settings.gateway_port,
        workers=workers,
    )


class Lane(StrEnum):
    """Which embed queues a worker serves."""

    all = "all"
    bulk = "bulk"
    interactive = "interactive"


def _embed_worker_argv(
    settings: Settings, lane: Lane, concurrency: int | None, model: ModelSpec | None = None
) -> list[str]:
    """A worker for one model's lane (both lanes: `all`); the default model's without one."""
    model = model or settings.served_models[0]
    lanes = embed_queues(settings, model.name)
    selected = {Lane.all: lanes, Lane.bulk: [lanes.bulk], Lane.interactive: [lanes.interactive]}
    name = "embed" if lane is Lane.all else lane.value
    if model != settings.served_models[0]:
        name = f"{name}-{model.slug}"
    return _worker_argv(
        settings, queues=",".join(selected[lane]), name=name, concurrency=concurrency
    )


@app.command()
def worker(
    concurrency: Concurrency = None,
    lane: Annotated[
        Lane,
        typer.Option(
            help="all: both embed queues. A worker of its own for `interactive` keeps searches "
            "and /v1/embeddings fast while bulk ingest runs."
        ),
    ] = Lane.all,
    model: Annotated[
        str | None,
        typer.Option(
            help="Which of EMBEDAPP_MODELS this worker serves (default: the first).",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """Run an embed worker for one model, loaded once per prefork child."""
    settings = settings_or_exit()
    spec = settings.served(model) if model else None
    if model and spec is None:
        served = ", ".join(s.name for s in settings.served_models)
        console.print(f"[red]error:[/] --model {model}: not in EMBEDAPP_MODELS ({served})")
        raise typer.Exit(code=2)
    from embedapp.celery_app import celery_app

    celery_app.worker_main(_embed_worker_argv(settings, lane, concurrency, spec))


@app.command("store-worker")
def store_worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            help="Only with EMBEDAPP_QDRANT_URL: embedded Qdrant admits one process.",
            metavar="N",
        ),
    ] = 1,
) -> None:
    """Run the store worker: the one owner of the embedded Qdrant store."""
    if concurrency > 1 and not load_settings().qdrant_url:  # before asking any service
        console.print(
            "[red]error:[/] embedded Qdrant admits one process; "
            "set EMBEDAPP_QDRANT_URL to run more than one store child"
        )
        raise typer.Exit(code=2)
    settings = settings_or_exit()
    from embedapp.celery_app import celery_app

    celery_app.worker_main(
        _worker_argv(settings, queues=STORE_QUEUE, name="store", concurrency=concurrency)
    )


@app.command()
def flower(
    address: Annotated[str, typer.Option(help="Bind address.", metavar="HOST")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Default: EMBEDAPP_FLOWER_PORT.", metavar="PORT")
    ] = None,
) -> None:
    """Run Flower: workers, tasks, and (through RabbitMQ's management API) queue depths."""
    settings = settings_or_exit(queues=False)
    command = flower_child(settings, address=address, port=port or settings.flower_port)
    console.print(f"flower: {flower_login(settings)}", soft_wrap=True)
    os.execve(command.argv[0], command.argv, {**os.environ, **command.env})


@app.command()
def serve(concurrency: Concurrency = None) -> None:
    """Run gateway, embed worker, store worker and Flower together; Ctrl-C stops them all."""
    settings = settings_or_exit()
    workers = [
        ("store worker", _worker_argv(settings, queues=STORE_QUEUE, name="store", concurrency=1))
    ]
    for spec in settings.served_models:
        # Bulk and interactive lanes in workers of their own: a search never waits for a
        # child busy with a bulk batch. Both with a single-threaded child per core by
        # default (less CPU per text than one child with every core's threads); the gateway
        # runs a micro-batch per child. Each served model has its own pair.
        of = "" if spec == settings.served_models[0] else f" ({spec.name})"
        workers += [
            (f"bulk embed worker{of}", _embed_worker_argv(settings, Lane.bulk, concurrency, spec)),
            (
                f"interactive embed worker{of}",
                _embed_worker_argv(settings, Lane.interactive, concurrency, spec),
            ),
        ]
    management = check_management_api(settings)
    if management:  # Flower without queue depths is still worth running
        console.print(f"[yellow]warning:[/] {management}")
    base = settings.worker_metrics_port
    children = [
        Child(
            name,
            [*CELERY, *argv],
            # Several workers on one host: a metrics port each.
            env={"EMBEDAPP_WORKER_METRICS_PORT": str(base + offset if base else 0)},
        )
        for offset, (name, argv) in enumerate(workers)
    ]
    children += [
        Child(
            "gateway",
            [sys.executable, "-m", "embedapp", "gateway"],
            env={"EMBEDAPP_WORKER_CONCURRENCY": str(concurrency)} if concurrency else {},
        ),
        flower_child(settings, address="127.0.0.1", port=settings.flower_port),
    ]
    console.print(
        f"embedapp: gateway http://{settings.gateway_host}:{settings.gateway_port}  "
        f"flower http://127.0.0.1:{settings.flower_port} ({flower_login(settings)})  "
        f"worker metrics {f'ports {base}-{base + len(workers) - 1}' if base else 'off'}",
        soft_wrap=True,
    )
    raise typer.Exit(code=Supervisor(children, console=console).run())


app.command("ingest", cls=Command)(ingest)
app.add_typer(bench_app, name="bench")
app.add_typer(store_app, name="store")
app.add_typer(keys_app, name="keys")
app.add_typer(dlq_app, name="dlq")
