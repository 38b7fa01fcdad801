"""`embedapp ingest FILE`: a file of any size into a collection, with progress; resumable."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from embedapp.cli import records
from embedapp.cli.bulk_ingest import Checkpoint, GatewayUnreachable, Ingest, Tally, batches
from embedapp.cli.support import console, load_settings
from embedapp.settings import get_settings


class RateColumn(ProgressColumn):
    """Documents finished per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} docs/s", style="progress.data.speed")


def _count_lines(path: Path) -> int:
    """About how many documents the file holds (for the bar; read fast, in binary)."""
    lines, last = 0, b"\n"
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _gateway_url() -> str:
    settings = get_settings()
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else settings.gateway_host
    return f"http://{host}:{settings.gateway_port}"


def _summary(tally: Tally, *, head: str) -> str:
    return (
        f"{head}: {tally.stored:,} stored ({tally.embedded:,} embedded, {tally.unchanged:,} "
        f"already held), {tally.skipped:,} skipped (stored by an earlier run), "
        f"{tally.failed:,} failed"
    )


def ingest(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="The documents."),
    ],
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="Where they go.", metavar="NAME")
    ],
    id_field: Annotated[
        str, typer.Option(help="JSONL/CSV field holding the id.", metavar="FIELD")
    ] = "id",
    text_field: Annotated[
        str, typer.Option(help="JSONL/CSV field holding the text.", metavar="FIELD")
    ] = "text",
    fmt: Annotated[
        records.Format,
        typer.Option(
            "--format",
            help="auto: by suffix (.jsonl/.ndjson, .csv; anything else is text, one "
            "document per line, its id `<file name>:<line>`).",
        ),
    ] = records.Format.auto,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Documents per request, one job each (jobs of hundreds let the worker sort "
            "texts by length; at most EMBEDAPP_MAX_DOCUMENTS_PER_REQUEST).",
            metavar="N",
        ),
    ] = 500,
    in_flight: Annotated[int, typer.Option(min=1, help="Jobs queued at once.", metavar="N")] = 4,
    url: Annotated[
        str | None, typer.Option(help="The gateway (default: from settings).", metavar="URL")
    ] = None,
    restart: Annotated[bool, typer.Option(help="Ignore what an earlier run stored.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Send a JSONL, CSV or text file to a collection; re-run the same command to resume."""
    settings = load_settings()
    # From the environment only: a key on the command line is visible to every user of `ps`.
    secret = settings.api_key or (settings.api_keys[0] if settings.api_keys else None)
    key = secret.get_secret_value() if secret else None
    checkpoint = Checkpoint(
        settings.data_dir / "ingest",
        file,
        key={
            "collection": collection,
            "id_field": id_field,
            "text_field": text_field,
            "format": records.resolve(file, fmt),
            "batch_size": batch_size,
        },
    )
    if restart:
        checkpoint.done.clear()
    total = _count_lines(file) - (records.resolve(file, fmt) is records.Format.csv)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("submitted {task.fields[submitted]:,}  stored {task.fields[stored]:,}"),
        TextColumn("[red]failed {task.fields[failed]:,}"),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    interrupted = stopped = False
    with (
        httpx.Client(base_url=url or _gateway_url(), headers=headers, timeout=60) as client,
        Progress(*columns, console=console) as progress,
    ):
        bar = progress.add_task(collection, total=total, submitted=0, stored=0, failed=0)

        def show(tally: Tally) -> None:
            progress.update(
                bar,
                completed=tally.stored + tally.failed + tally.skipped,
                submitted=tally.submitted,
                stored=tally.stored,
                failed=tally.failed,
            )

        run = Ingest(client, collection, checkpoint, window=in_flight, on_change=show)
        try:
            items = records.read(file, fmt, id_field=id_field, text_field=text_field)
            tally = run.run(batches(items, batch_size))
        except ValueError as exc:  # a CSV without the named columns
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc
        except GatewayUnreachable as exc:
            stopped, tally = True, run.tally
            tally.errors.append(f"{exc}: stopped; run the same command again to resume")
        except KeyboardInterrupt:
            interrupted, tally = True, run.tally
    for message in tally.errors[:20]:
        console.print(f"[red]failed:[/] {message}")
    if len(tally.errors) > 20:
        console.print(f"[red]… and {len(tally.errors) - 20} more failures")
    head = "interrupted" if interrupted else "stopped" if stopped else "done"
    console.print(_summary(tally, head=head), soft_wrap=True)
    if as_json:
        print(json.dumps({**asdict(tally), "interrupted": interrupted}))
    if interrupted:
        console.print(
            f"{len(run.pending)} jobs in flight will still be stored; "
            "run the same command again to resume."
        )
        raise typer.Exit(code=130)
    if tally.failed or stopped:
        raise typer.Exit(code=1)
    checkpoint.remove()
