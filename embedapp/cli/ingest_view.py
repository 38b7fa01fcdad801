"""What `embedapp ingest` shows: a one-line bar that fits 80 columns, and a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from embedapp.cli.bulk_ingest import Tally

NAME_WIDTH = 14


class RateColumn(ProgressColumn):
    """Documents finished per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} docs/s", style="progress.data.speed")


def progress_bar(console: Console) -> Progress:
    """collection ━━━━━━━━━━━━ 1,234/3,000 112 docs/s 0:00:16 (about 70 columns at most)."""
    return Progress(
        TextColumn(f"[bold]{{task.description:.{NAME_WIDTH}}}"),
        BarColumn(bar_width=20),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def summary(
    tally: Tally, *, head: str, collection: str, truncated: int, truncated_list: Path | None
) -> str:
    """Lines a reader understands at once: what is stored, what was done to get there."""
    held = tally.stored + tally.done_before
    lines = [
        f"{head}: {held:,} documents stored in {collection!r}",
        f"  {tally.embedded:>10,}  embedded",
        f"  {tally.unchanged:>10,}  already stored with the same text: not embedded again",
    ]
    if tally.done_before:
        lines.append(f"  {tally.done_before:>10,}  stored by an earlier run: not sent again")
    lines.append(f"  {tally.failed:>10,}  failed" + (" (listed above)" if tally.failed else ""))
    if truncated_list is not None:
        lines.append(f"  {truncated:>10,}  cut to the model's window (--chunk-size keeps all text)")
        lines.append(f"              their ids: {truncated_list}")
    return "\n".join(lines)
