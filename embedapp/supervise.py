"""Run several commands as one service: a part that dies is started again (with backoff) while
the others keep running; Ctrl-C or SIGTERM stops them all, letting each finish its work."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console


@dataclass
class Child:
    """A named command and its process."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)  # added to ours; kept off the argv
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    # Deaths in a row, each before the part had run `stable_s`; and when to start it again.
    deaths: int = 0
    restart_at: float | None = None


# Restarts wait 1, 2, 4 ... seconds, at most this long.
BACKOFF_MAX_S = 30.0
# A part that overstays its stop is sent this first: embedapp's workers print every
# process's Python stacks on it (embedapp.worker.lifecycle), so the log says what held them.
STACKS_SIGNAL = signal.SIGUSR2
STACKS_S = 0.3


class Supervisor:
    """Starts children in their own process groups, so a stop reaches their children too."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        console: Console,
        grace_s: float = 30.0,
        stable_s: float = 30.0,
        max_deaths: int = 5,
    ):
        self.children = list(children)
        self.console = console
        self.grace_s = grace_s
        # A part that dies `max_deaths` times in a row, each within `stable_s` of its start,
        # cannot start here (a port taken, a wrong setting): the service stops, exit 1.
        self.stable_s = stable_s
        self.max_deaths = max_deaths
        self._stop_requested: str | None = None

    def _request_stop(self, signum: int, _frame: object) -> None:
        self._stop_requested = signal.Signals(signum).name

    def run(self) -> int:
        """Start every child, wait for a signal or a death, stop the rest; the exit code."""
        previous = {
            sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            return self._start_and_watch()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self, *, output: int | None = None) -> None:
        """Start every child (their output to ours, or to `output`: a file descriptor)."""
        for child in self.children:
            self._start(child, output)

    def _start(self, child: Child, output: int | None = None) -> None:
        # A session of its own: Ctrl-C reaches only us, and we stop children in order.
        child.process = subprocess.Popen(
            child.argv,
            env={**os.environ, **child.env},
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
        )
        child.started_at, child.restart_at = time.monotonic(), None
        self.console.print(f"[green]started[/] {child.name} (pid {child.process.pid})")

    def _start_and_watch(self) -> int:
        self.start()
        while self._stop_requested is None:
            for child in self.children:
                if not self._keep_up(child):
                    return 1
            time.sleep(0.2)
        self.console.print(f"{self._stop_requested}: stopping all parts")
        return 0

    def _keep_up(self, child: Child) -> bool:
        """Start a dead child again when its backoff is over; False once it keeps dying."""
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._start(child)
            return True
        assert child.process is not None
        code = child.process.poll()
        if code is None:
            return True
        _signal_group(child, signal.SIGKILL)  # what it left behind
        child.deaths = 1 if now - child.started_at >= self.stable_s else child.deaths + 1
        if child.deaths >= self.max_deaths:
            self.console.print(
                f"[red]{child.name} exited with {code}, {child.deaths} times in a row within "
                f"{self.stable_s:g} s of starting: stopping all parts[/]"
            )
            return False
        wait = min(BACKOFF_MAX_S, 2.0 ** (child.deaths - 1))
        self.console.print(f"[red]{child.name} exited with {code}[/]; starting it in {wait:g} s")
        child.restart_at = now + wait
        return True

    def stop(self) -> None:
        """SIGTERM each part's own process, SIGKILL each group once `grace_s` is over.

        Not the group: a Celery worker's pool children would die mid-task. Told alone, the
        worker stops taking messages and lets its children finish what they hold (its warm
        shutdown); the gateway answers the requests it has. A message still unfinished at
        the SIGKILL is redelivered (acks_late)."""
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        overstayed = []
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                overstayed.append(child)
        for child in overstayed:
            self.console.print(
                f"[yellow]{child.name} did not stop in time; where each of its processes is "
                "(their Python stacks) follows, then it is killed[/]"
            )
            assert child.process is not None
            # One process at a time: stacks written at once interleave in the shared log.
            for pid in _members(child.process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, STACKS_SIGNAL)
                time.sleep(STACKS_S)
        for child in self.children:
            _signal_group(child, signal.SIGKILL)  # any grandchild left behind
            if child.process:
                child.process.wait()
        self.console.print("all parts stopped")


def _signal_group(child: Child, sig: signal.Signals) -> None:
    if child.process is None:
        return
    with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
        os.killpg(child.process.pid, sig)


def _members(group: int) -> list[int]:
    """The processes of a process group, its leader first (where /proc lists them; else the
    leader alone)."""
    members = [group]
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != group:
                with contextlib.suppress(OSError):
                    if os.getpgid(int(entry)) == group:
                        members.append(int(entry))
    return members
