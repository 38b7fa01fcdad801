import time
from pathlib import Path

from rich.console import Console

from embedapp.supervise import Child, Supervisor
from tests.procs import survivors


def test_when_one_part_dies_all_parts_and_their_children_stop(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # A part that ignores SIGTERM and has a child of its own: only a group SIGKILL stops both.
    stubborn = f"trap '' TERM; sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    supervisor = Supervisor(
        [Child("stubborn", ["sh", "-c", stubborn]), Child("dies", ["sh", "-c", "sleep 1; exit 3"])],
        console=Console(quiet=True),
        grace_s=1.0,
    )
    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < 30
    recorded = {int(line) for line in pids.read_text().split()}
    assert len(recorded) == 2
    assert survivors(recorded) == set()
