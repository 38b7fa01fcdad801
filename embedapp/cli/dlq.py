"""`embedapp dlq`: the dead-letter queue's commands (embedapp.cli.dead_letters reads and
replays it)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from embedapp.cli.support import Command, console, settings_or_exit

dlq_app = typer.Typer(
    rich_markup_mode=None,
    help="The dead-letter queue: ingest jobs that failed for good.",
    no_args_is_help=True,
)


@dlq_app.command("list")
def dlq_list() -> None:
    """Show the dead messages (they stay in the queue)."""
    from kombu import Connection
    from rich.table import Table

    from embedapp.cli import dead_letters

    settings = settings_or_exit(queues=False)
    with Connection(settings.broker_url) as connection:
        letters = dead_letters.peek(connection, settings)
    table = Table(title=f"{len(letters)} dead messages in {dead_letters.DEAD_LETTER_QUEUE.name}")
    for column in ("task id", "task", "job", "collection", "docs", "from queue", "died at"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            letter.task_id,
            letter.task,
            letter.job_id or "",
            letter.collection or "",
            str(letter.documents or ""),
            letter.queue,
            letter.died_at,
        )
    Console().print(table)


@dlq_app.command("replay", cls=Command)
def dlq_replay(
    task_ids: Annotated[
        list[str] | None, typer.Argument(help="Task ids (see dlq list).", metavar="TASK_ID")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Replay every dead message.")] = False,
) -> None:
    """Send dead messages back to their queue with a fresh retry budget."""
    from kombu import Connection

    from embedapp.cli import dead_letters

    if not task_ids and not every:  # replaying everything is a choice, never a default
        console.print("[red]error:[/] name the task ids to replay (embedapp dlq list), or --all")
        raise typer.Exit(code=2)
    settings = settings_or_exit(queues=False)
    confirmed = {"confirm_publish": True}
    with Connection(settings.broker_url, transport_options=confirmed) as connection:
        done = dead_letters.replay(
            connection, settings, task_ids=set(task_ids) if task_ids else None
        )
    for letter in done.sent:
        console.print(
            f"replayed {letter.task} {letter.task_id} (job {letter.job_id}) to {letter.routing_key}"
        )
    for letter in done.refused:
        console.print(
            f"[yellow]refused:[/] {letter.routing_key} did not take {letter.task_id} "
            f"(job {letter.job_id}): it stays in the dead-letter queue; retry when it has room",
            soft_wrap=True,
        )
    console.print(
        f"{len(done.sent)} replayed" + (f", {len(done.refused)} refused" if done.refused else "")
    )
    if done.refused:
        raise typer.Exit(code=1)
