"""Run several commands as one service: stop them all when one dies or on Ctrl-C/SIGTERM."""

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


class Supervisor:
    """Starts children in their own process groups, so a stop reaches their children too."""

    def __init__(self, children: Sequence[Child], *, console: Console, grace_s: float = 30.0):
        self.children = list(children)
        self.console = console
        self.grace_s = grace_s
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
            # A session of its own: Ctrl-C reaches only us, and we stop children in order.
            child.process = subprocess.Popen(
                child.argv,
                env={**os.environ, **child.env},
                start_new_session=True,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
            )
            self.console.print(f"[green]started[/] {child.name} (pid {child.process.pid})")

    def _start_and_watch(self) -> int:
        self.start()
        code = 0
        while self._stop_requested is None:
            dead = [c for c in self.children if c.process and c.process.poll() is not None]
            if dead:
                for c in dead:
                    self.console.print(f"[red]{c.name} exited with {c.process.returncode}[/]")
                code = 1
                break
            time.sleep(0.5)
        else:
            self.console.print(f"{self._stop_requested}: stopping all parts")
        return code

    def stop(self) -> None:
        """SIGTERM every group (Celery finishes or requeues work), SIGKILL what outlives grace."""
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.console.print(f"[yellow]{child.name} did not stop in time; killing it[/]")
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
