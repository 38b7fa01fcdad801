"""A RabbitMQ cluster of three nodes on this machine (distinct node names, ports and data
folders), for the quorum-queue tests. Uses the host's rabbitmq-server, which runs nodes as the
`rabbitmq` user."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Node n listens for AMQP on AMQP_BASE + n, for the management API on 15700 + n, and talks to
# the other nodes on 25700 + n: below the kernel's ephemeral range.
AMQP_BASE = 5700
NAMES = ("embedapp-q1", "embedapp-q2", "embedapp-q3")


@dataclass(frozen=True)
class Node:
    name: str
    number: int

    @property
    def node(self) -> str:
        return f"{self.name}@localhost"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{AMQP_BASE + self.number}//"

    @property
    def api_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{15700 + self.number}/api/"

    def ctl(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def launch(self, folder: Path) -> None:
        """Start the node in the background (see wait_started)."""
        env = {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_PID_FILE": str(folder / "pid"),
            "RABBITMQ_DIST_PORT": str(25700 + self.number),
            "RABBITMQ_ENABLED_PLUGINS_FILE": "/etc/rabbitmq/enabled_plugins",
        }
        subprocess.run(
            ["env", *(f"{k}={v}" for k, v in env.items()), "rabbitmq-server", "-detached"],
            check=True,
        )

    def join(self, seed: Node) -> None:
        self.ctl("stop_app")
        self.ctl("join_cluster", seed.node)
        self.ctl("start_app")

    def wait_started(self) -> None:
        deadline = time.monotonic() + 120
        while subprocess.run(
            ["rabbitmqctl", "-n", self.node, "await_startup"], capture_output=True
        ).returncode:  # not reachable until its VM is up
            assert time.monotonic() < deadline, f"{self.node} did not start"
            time.sleep(0.5)


@contextmanager
def cluster() -> Iterator[list[Node]]:
    """Three clustered nodes, stopped and removed afterwards. Their folders are the
    `rabbitmq` user's, in a folder of their own under /tmp (pytest's are root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="embedapp-cluster-"))
    nodes = [Node(name, number) for number, name in enumerate(NAMES, start=1)]
    _stop_quietly(nodes)  # left by an interrupted run
    for node in nodes:
        folder = root / node.name
        shutil.rmtree(folder, ignore_errors=True)
        for sub in ("mnesia", "log"):
            (folder / sub).mkdir(parents=True)
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{AMQP_BASE + node.number}\n"
            f"management.tcp.port = {15700 + node.number}\n"
            "management.tcp.ip = 127.0.0.1\n"
        )
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(root)], check=True)
    try:
        for node in nodes:  # all three boot at once
            node.launch(root / node.name)
        for node in nodes:
            node.wait_started()
        # One after the other: two nodes joining the seed at once made the second one's
        # start_app fail (exit 69, node unavailable) in a clean-clone CI run. This lane
        # runs beside the longer integration lane, so the seconds it adds cost nothing.
        for node in nodes[1:]:
            node.join(nodes[0])
        yield nodes
    finally:
        _stop_quietly(nodes)
        shutil.rmtree(root, ignore_errors=True)


def _stop_quietly(nodes: list[Node]) -> None:
    """Stop the nodes (at once), whether they run or not."""
    stopping = [
        subprocess.Popen(
            ["rabbitmqctl", "-n", node.node, "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for node in nodes
    ]
    for process in stopping:
        process.wait(timeout=60)
