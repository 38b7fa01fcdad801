"""`embedapp serve`'s supervisor: a part that dies is started again while the others keep
running; one that keeps dying stops the service; a stop lets each part finish its work."""

import signal
import threading
import time
from pathlib import Path

from rich.console import Console

from embedapp.supervise import STACKS_SIGNAL, Child, Supervisor
from tests.procs import survivors


def _stop_after(supervisor: Supervisor, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, supervisor._request_stop, (signal.SIGTERM, None))
    timer.start()
    return timer


def _start_until(supervisor: Supervisor, ready: Path) -> None:
    """Start the parts and wait until one of them has made `ready`."""
    supervisor.start()
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_part_that_dies_is_started_again_and_the_others_keep_running(tmp_path: Path) -> None:
    starts, steady = tmp_path / "starts", tmp_path / "steady"
    supervisor = Supervisor(
        [
            Child("steady", ["sh", "-c", f"echo $$ >> {steady}; exec sleep 300"]),
            Child("flaky", ["sh", "-c", f"echo $$ >> {starts}; sleep 0.2; exit 3"]),
        ],
        console=Console(quiet=True),
        grace_s=2.0,
        stable_s=0.1,  # each death counts as the first: it is restarted for ever
    )
    _stop_after(supervisor, 4.0)
    assert supervisor.run() == 0  # stopped by the signal, not by the death
    assert len(starts.read_text().split()) >= 3
    assert len(steady.read_text().split()) == 1  # never stopped meanwhile


def test_a_part_that_keeps_dying_at_start_stops_every_part(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # A part that ignores SIGTERM and has a child of its own: only a group SIGKILL stops both.
    stubborn = f"trap '' TERM; sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    supervisor = Supervisor(
        [Child("stubborn", ["sh", "-c", stubborn]), Child("dies", ["sh", "-c", "exit 3"])],
        console=Console(quiet=True),
        grace_s=1.0,
        max_deaths=3,  # starts after 0, 1 and 2 s of backoff
    )
    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < 30
    recorded = {int(line) for line in pids.read_text().split()}
    assert len(recorded) == 2
    assert survivors(recorded) == set()


def test_a_stop_lets_a_part_finish_the_work_its_children_hold(tmp_path: Path) -> None:
    # Like a Celery worker: told SIGTERM, it waits for its child's task, then exits. The
    # child itself must not be signalled (a pool child signalled dies mid-task).
    done, ready = tmp_path / "done", tmp_path / "ready"
    task = f"trap 'echo signalled >> {done}' TERM; sleep 1.5; echo finished >> {done}"
    worker = f"sh -c \"{task}\" & trap 'wait; exit 0' TERM; touch {ready}; wait"
    supervisor = Supervisor(
        [Child("worker", ["sh", "-c", worker])], console=Console(quiet=True), grace_s=10.0
    )
    _start_until(supervisor, ready)
    supervisor.stop()
    assert done.read_text().split() == ["finished"]


def test_a_part_that_overstays_its_stop_is_asked_for_its_stacks_then_killed(
    tmp_path: Path,
) -> None:
    asked, ready = tmp_path / "asked", tmp_path / "ready"
    # Ignores SIGTERM; answers the stacks signal as a worker's faulthandler does.
    stuck = (
        f"trap '' TERM; trap 'echo stacks >> {asked}' {STACKS_SIGNAL.name[3:]}; "
        f"touch {ready}; while :; do sleep 0.1; done"
    )
    supervisor = Supervisor(
        [Child("stuck", ["sh", "-c", stuck])], console=Console(quiet=True), grace_s=1.0
    )
    _start_until(supervisor, ready)
    supervisor.stop()
    assert asked.read_text().split() == ["stacks"]
    assert supervisor.children[0].process.poll() is not None  # type: ignore[union-attr]
