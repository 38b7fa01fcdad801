"""`embedapp ingest FILE`: a file of any size into a collection, with progress; resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from embedapp import records
from embedapp.cli.bulk_ingest import Ingest, Stopped, Tally, batches, reach
from embedapp.cli.checkpoint import Checkpoint
from embedapp.cli.ingest_view import progress_bar, summary
from embedapp.cli.support import console, load_settings
from embedapp.settings import get_settings


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


def _report(
    tally: Tally, outcome: str, *, collection: str, checkpoint: Checkpoint, as_json: bool
) -> None:
    """The run's summary, and with --json the same as one JSON object on stdout."""
    truncated = checkpoint.truncated_ids()
    listed = checkpoint.truncated_path if truncated else None
    console.print(
        summary(
            tally,
            head=outcome,
            collection=collection,
            truncated=len(truncated),
            truncated_list=listed,
        ),
        soft_wrap=True,
    )
    if as_json:
        print(
            json.dumps(
                {
                    "collection": collection,
                    "stored": tally.stored,
                    "embedded": tally.embedded,
                    "unchanged": tally.unchanged,
                    "done_before": tally.done_before,
                    "failed": tally.failed,
                    "truncated": len(truncated),
                    "truncated_ids": str(listed) if listed else None,
                    "errors": tally.errors,
                    "interrupted": outcome == "interrupted",
                    "stopped": outcome == "stopped",
                }
            )
        )


def ingest(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The documents.", metavar="FILE"
        ),
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
    chunk_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Split texts longer than the model's window into chunks of N tokens "
            "(default: cut them to the window, and list their ids).",
            metavar="N",
        ),
    ] = None,
    chunk_overlap: Annotated[
        int,
        typer.Option(min=0, help="Tokens each chunk shares with the one before.", metavar="N"),
    ] = 0,
    restart: Annotated[bool, typer.Option(help="Ignore what an earlier run stored.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Send a JSONL, CSV or text file to a collection; re-run the same command to resume."""
    settings = load_settings()
    # From the environment only: a key on the command line is visible to every user of `ps`.
    secret = settings.api_key or (settings.api_keys[0] if settings.api_keys else None)
    key = secret.get_secret_value() if secret else None
    chunking = None if chunk_size is None else {"size": chunk_size, "overlap": chunk_overlap}
    if chunking and chunk_overlap >= chunk_size:
        raise typer.BadParameter("must be smaller than --chunk-size", param_hint="--chunk-overlap")
    resolved = records.resolve(file, fmt)
    checkpoint = Checkpoint(
        settings.data_dir / "ingest",
        file,
        key={
            "collection": collection,
            "id_field": id_field,
            "text_field": text_field,
            "format": resolved,
            "batch_size": batch_size,
            "chunking": chunking,
        },
    )
    if restart:
        checkpoint.clear()
    total = _count_lines(file) - (resolved is records.Format.csv)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    interrupted = stopped = False
    with (
        httpx.Client(base_url=url or _gateway_url(), headers=headers, timeout=60) as client,
        progress_bar(console) as progress,
    ):
        bar = progress.add_task(collection, total=total)

        def show(tally: Tally) -> None:
            progress.update(bar, completed=tally.finished + tally.in_flight_done)

        run = Ingest(
            client,
            collection,
            checkpoint,
            window=in_flight,
            chunking=chunking,
            on_change=show,
            notify=progress.console.print,
        )
        try:
            reach(client)
            items = records.read(file, fmt, id_field=id_field, text_field=text_field)
            tally = run.run(batches(items, batch_size))
        except ValueError as exc:  # a CSV without the named columns
            progress.stop()
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(code=2) from exc
        except Stopped as exc:
            stopped, tally = True, run.tally
            progress.console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        except KeyboardInterrupt:
            interrupted, tally = True, run.tally
    outcome = "interrupted" if interrupted else "stopped" if stopped else "done"
    _report(tally, outcome, collection=collection, checkpoint=checkpoint, as_json=as_json)
    if interrupted:
        console.print(
            f"{len(run.pending)} jobs in flight will still be stored; run the same command "
            "again to resume (it follows them instead of sending them again)."
        )
        raise typer.Exit(code=130)
    if stopped:
        console.print("Run the same command again to resume.")
    if tally.failed or stopped:
        raise typer.Exit(code=1)
    checkpoint.remove()
