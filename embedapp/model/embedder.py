"""The embedding model: device pick, load once per worker child, encode in batches.

torch and sentence-transformers are imported inside functions so that importing this
module (the worker parent, the gateway) never pulls them in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from embedapp.model.batching import token_budget_batches
from embedapp.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# Told of every model call: its texts and seconds (the worker records them as metrics).
BatchObserver = Callable[[int, float], None]


def _environment(settings: Settings) -> None:
    """What the libraries read as they are imported."""
    if os.path.isdir(settings.model_source):
        # A local model needs nothing from the hub; never let a load wait on the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def preload(settings: Settings) -> None:
    """Import torch and sentence-transformers once, in a worker's parent, so that each prefork
    child starts with them instead of importing them itself (about 9 s of CPU each here,
    again for every child started after one died). An import makes no CUDA context and starts
    no OpenMP pool, the things that must not cross a fork; the children make those."""
    _environment(settings)
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401


def pick_device(requested: str) -> str:
    """`auto` → cuda, then mps, then cpu; anything else is taken as given (e.g. `cuda:1`)."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def threads_per_child(concurrency: int, cores: int | None = None) -> int:
    """Split the cores between prefork children: oversubscribing threads only adds contention."""
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, cores // max(1, concurrency))


@dataclass
class Embedder:
    """A loaded model and what callers need to know about it."""

    model: SentenceTransformer
    model_id: str
    device: str
    batch_size: int
    max_batch_tokens: int
    # What each model call runs in (autocast for bfloat16/float16; see embedapp.backends).
    precision: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
    # Recorded with every vector: float32, bfloat16, float16, or int8 (ONNX, quantized).
    precision_name: str = "float32"
    # Of the model's files (embedapp.model.files), also recorded with every vector.
    fingerprint: str = ""
    on_batch: BatchObserver | None = None

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads per text, special tokens included; the rest is cut off."""
        return int(self.model.max_seq_length)

    @property
    def max_content_tokens(self) -> int:
        """Tokens of a text itself that fit in the model's window."""
        return self.max_tokens - self.model.tokenizer.num_special_tokens_to_add(pair=False)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes untruncated, special tokens included."""
        encoded = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """(start, end) characters of each token of the text."""
        encoded = self.model.tokenizer(
            text,
            add_special_tokens=False,
            truncation=False,
            return_offsets_mapping=True,
            verbose=False,
        )
        return [tuple(span) for span in encoded["offset_mapping"]]

    def encode(
        self,
        texts: Sequence[str],
        *,
        counts: Sequence[int] | None = None,
        progress: Progress | None = None,
        normalize: bool = True,
    ) -> np.ndarray:
        """float32 vectors (unit length by default) in the caller's order, with progress.

        `counts`: each text's token_counts, when the caller has them already.
        """
        if counts is None:
            counts = self.token_counts(texts) if texts else []
        lengths = [min(n, self.max_tokens) for n in counts]
        batches = token_budget_batches(
            lengths, max_batch_tokens=self.max_batch_tokens, max_batch_size=self.batch_size
        )
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        done = 0
        for batch in batches:
            started = time.perf_counter()
            with self.precision():
                out[batch] = self.model.encode(
                    [texts[i] for i in batch],
                    batch_size=len(batch),
                    normalize_embeddings=normalize,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            if self.on_batch:
                self.on_batch(len(batch), time.perf_counter() - started)
            done += len(batch)
            if progress:
                progress(done)
        return out


def load_embedder(settings: Settings, *, threads: int | None = None) -> Embedder:
    """Load the configured model on the best device and warm it up."""
    _environment(settings)
    import torch
    import transformers

    from embedapp.model import backends, files, precision

    transformers.utils.logging.disable_progress_bar()  # a tqdm bar per child floods worker logs

    if threads:
        torch.set_num_threads(threads)
    device = pick_device(settings.device)
    with _taking_turns(settings):
        model, device = _load_model(settings, device, threads=threads)
        fingerprint = files.fingerprint(settings.model_source)
        measured_under = precision.conditions(settings, device, fingerprint)
        if settings.backend == "openvino":
            from embedapp.model.openvino_cpu import OpenVINOTransformer

            onnx_file = backends.export_onnx(settings) / backends.ONNX_FILE
            runtime = OpenVINOTransformer(model, onnx_file, threads=threads)
            chosen = precision.remembered(
                settings,
                measured_under,
                lambda: precision.choose(settings, device, model, runtime.running_in),
            )
            runtime.use(chosen.dtype)
            run_in = contextlib.nullcontext  # OpenVINO runs its own precision
        else:
            chosen = precision.remembered(
                settings, measured_under, lambda: precision.choose(settings, device, model)
            )
            if settings.backend == "torch" and device == "cpu":
                backends.tune_cpu(model, settings, chosen)
            run_in = backends.autocast(chosen.dtype, device)
        embedder = Embedder(
            model=model,
            model_id=settings.model_id,
            device=device,
            batch_size=settings.batch_size,
            max_batch_tokens=settings.max_batch_tokens,
            precision=run_in,
            precision_name="int8" if settings.backend == "onnx-int8" else chosen.name,
            fingerprint=fingerprint,
        )
        embedder.encode(["warm up the kernels and the tokenizer"])
    log.info(
        "model %s (files %s) loaded on %s, backend %s, %s (%s; pid %d, %d threads, dim %d)",
        settings.model_id,
        embedder.fingerprint,
        device,
        settings.backend,
        embedder.precision_name,
        chosen.reason,
        os.getpid(),
        threads or torch.get_num_threads(),
        embedder.dimension,
    )
    return embedder


@contextlib.contextmanager
def _taking_turns(settings: Settings) -> Iterator[None]:
    """Children starting together take turns to load, time kernels and precisions, and warm
    up. Timed side by side they slowed each other: one child measured bfloat16 at 1.00x
    float32 and served float32, while its twin measured 1.91x. Timed while the others loaded
    their models, a child measured the faster kernel at 26.1 ms against 18.4 and served the
    slower one."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(settings.data_dir / "startup.lock", "w")  # noqa: SIM115 (closed below)
    except OSError as exc:  # a read-only data folder: the torch backend needs none
        log.warning("starting without taking turns with other children: %s", exc)
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load_model(
    settings: Settings, device: str, *, threads: int | None
) -> tuple[SentenceTransformer, str]:
    """The model on its backend (float32 weights), and the device it runs on."""
    import torch
    from sentence_transformers import SentenceTransformer

    from embedapp.model import backends

    if device != "cpu" and settings.backend != "torch":
        log.warning("the %s backend runs on the CPU", settings.backend)
        device = "cpu"
    if settings.backend in ("torch", "openvino"):
        # float32 whatever the files hold (transformers 5 loads a float16 checkpoint as
        # float16): a lower precision is chosen per child (precision.choose), not by the files.
        return SentenceTransformer(
            settings.model_source, device=device, model_kwargs={"dtype": torch.float32}
        ), device
    return backends.load_onnx(settings, threads=threads), device


def content_hash(text: str, model_id: str, chunking: str = "") -> str:
    """Identifies a text as embedded by one model (and split one way): same hash, same vectors."""
    return hashlib.sha256(f"{model_id}\0{chunking}\0{text}".encode()).hexdigest()


_embedder: Embedder | None = None


def init_embedder(
    settings: Settings, *, threads: int | None = None, on_batch: BatchObserver | None = None
) -> Embedder:
    """Load this process's model (called once per worker child)."""
    global _embedder
    _embedder = load_embedder(settings, threads=threads)
    _embedder.on_batch = on_batch
    return _embedder


def get_embedder(settings: Settings) -> Embedder:
    """This process's model, loading it on first use where no worker signal did."""
    return _embedder or init_embedder(settings)
