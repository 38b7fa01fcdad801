"""The ingest bar and summary, rendered as an 80-column terminal would show them."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from embedapp.cli.bulk_ingest import Tally
from embedapp.cli.ingest_view import progress_bar, summary


def test_the_bar_fits_one_line_of_80_columns_at_a_million_documents() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    progress = progress_bar(console)
    bar = progress.add_task("a-long-collection-name-indeed", total=1_000_000)
    progress.update(bar, completed=999_999)
    console.print(progress.get_renderable())
    rendered = out.getvalue().strip("\n").splitlines()
    assert len(rendered) == 1, rendered
    assert len(rendered[0]) <= 80
    assert "999,999/1,000,000" in rendered[0]


def test_the_summary_says_what_is_stored_and_how_without_contradiction() -> None:
    tally = Tally(stored=2_500, embedded=2_440, unchanged=60, done_before=500, failed=0)
    text = summary(
        tally,
        head="done",
        collection="quotes",
        truncated=60,
        truncated_list=Path("/data/ingest/truncated-quotes-1a2b3c4d.txt"),
    )
    assert text.splitlines() == [
        "done: 3,000 documents stored in 'quotes'",
        "       2,440  embedded",
        "          60  already stored with the same text: not embedded again",
        "         500  stored by an earlier run: not sent again",
        "           0  failed",
        "          60  cut to the model's window (--chunk-size keeps all text)",
        "              their ids: /data/ingest/truncated-quotes-1a2b3c4d.txt",
    ]
    assert "skipped" not in text
    assert all(len(line) <= 80 for line in text.splitlines()[:-1])
