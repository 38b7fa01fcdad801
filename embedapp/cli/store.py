"""`embedapp store …`: the embedded store's files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from embedapp.cli.support import console, load_settings

store_app = typer.Typer(
    rich_markup_mode=None, help="The embedded store (Qdrant Edge).", no_args_is_help=True
)


@store_app.command("migrate")
def migrate(
    source: Annotated[
        Path | None,
        typer.Option(
            help="qdrant-client local-mode folder; default: the data dir's qdrant/.",
            metavar="FOLDER",
        ),
    ] = None,
) -> None:
    """Copy collections from the older embedded store (qdrant-client local mode) into Qdrant
    Edge, vectors and all: nothing is re-embedded. Stop the store worker first; running it
    again is safe."""
    from embedapp.store.edge import EdgeStore
    from embedapp.store.migrate import has_local_data
    from embedapp.store.migrate import migrate as copy_collections

    settings = load_settings()
    if settings.qdrant_url or settings.embedded_store != "edge":
        console.print("[red]error:[/] the configured store is not Qdrant Edge; nothing to do")
        raise typer.Exit(code=2)
    source = source or settings.data_dir / "qdrant"
    if not has_local_data(source):
        console.print(
            f"[red]error:[/] no qdrant-client local-mode storage at {source}", soft_wrap=True
        )
        raise typer.Exit(code=2)
    target = EdgeStore(
        settings.embedded_qdrant_path, index_after_points=settings.index_after_points
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, TimeRemainingColumn(), console=console) as bars:
            tasks: dict[str, int] = {}

            def show(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bars.add_task(name, total=total)
                bars.update(tasks[name], completed=done)

            copied = copy_collections(source, target, progress=show)
    except RuntimeError as exc:  # local mode's lock: another process has the folder open
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from exc
    finally:
        target.close()
    for name, points in copied.items():
        console.print(f"{name}: {points} points copied")
    console.print(
        f"{len(copied)} collections now in {settings.embedded_qdrant_path}; {source} is left as "
        "it was (delete it once you are satisfied)",
        soft_wrap=True,
    )
