"""The servers embedapp is measured against, each started on a port of its own: the older
design (embedapp/bench/old_design.py) and, given a Python that has it, infinity-emb
(`bash benchmarks/infinity-venv.sh` builds one)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from embedapp.settings import Settings

READY_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(
    name: str, argv: list[str], env: dict[str, str], url: str, warm: Callable[[], object]
) -> Iterator[str]:
    """`argv` running in a process group of its own until the block ends; `warm` is tried
    until it succeeds (the server is up, its model loaded), then `url` is yielded."""
    process = subprocess.Popen(argv, env={**os.environ, **env}, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} before it served")
            try:
                warm()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


@contextmanager
def old_design(workers: int, tasks: int, queue: int) -> Iterator[str]:
    """embedapp.bench.old_design under uvicorn, the way it was run; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "OLD_DESIGN_TASKS": str(tasks),
        "OLD_DESIGN_QUEUE": str(queue),
        "OLD_DESIGN_THREADS": str(max(1, len(os.sched_getaffinity(0)) // workers)),
    }

    def warm() -> None:
        # Every worker process must have its model loaded: warm each a few times.
        for _ in range(4 * workers):
            httpx.post(f"{url}/embed", json={"text": "warm up"}, timeout=60)

    argv = [sys.executable, "-m", "uvicorn", "embedapp.bench.old_design:app",
            "--workers", str(workers), "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with _server("the old design", argv, env, url, warm):
        yield url


def infinity_version(python: str) -> str:
    """infinity-emb's version under `python`, or a RuntimeError saying what is wrong."""
    found = subprocess.run(
        [python, "-c", "import infinity_emb; print(infinity_emb.__version__)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode:
        raise RuntimeError(
            f"--peer-python {python}: infinity-emb does not import there "
            f"({found.stderr.strip().splitlines()[-1:] or 'no output'}); "
            "bash benchmarks/infinity-venv.sh builds a venv with it"
        )
    return found.stdout.strip()


@contextmanager
def infinity(python: str, dtype: str) -> Iterator[str]:
    """infinity-emb's server (`infinity_emb v2`, torch engine, on the CPU) serving the same
    model files under the same name; its URL. Its own batching and threads, as a user would
    run it."""
    settings = Settings()
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def warm() -> None:
        body = {"model": settings.model_id, "input": ["warm up"]}
        httpx.post(f"{url}/embeddings", json=body, timeout=60).raise_for_status()

    argv = [python, "-m", "infinity_emb.cli", "v2", "--model-id", settings.model_source,
            "--served-model-name", settings.model_id, "--engine", "torch", "--device", "cpu",
            "--dtype", dtype, "--no-bettertransformer", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]  # fmt: skip
    # Its usage statistics off: without a network they only retry in the background.
    env = {"HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}
    with _server("infinity-emb", argv, env, url, warm):
        yield url
