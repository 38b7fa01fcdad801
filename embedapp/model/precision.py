"""Which precision the model runs in: the one asked for where the device has it, or with
EMBEDAPP_DTYPE=auto (the default) the one measured at startup to be faster and as good.

auto tries bfloat16 on a CPU and float16 on CUDA. A CPU must run a model-sized matrix
product at least SPEEDUP_NEEDED times faster in bfloat16 than in float32 (on the faster
kernel of each), and on every device the model's vectors for a fixed probe set must agree
with float32 to a mean cosine of at least AGREEMENT_NEEDED; otherwise float32.

The first child on a machine measures, and keeps its decision under data_dir/precision for
the children after it (both lanes, and every restart): measured one by one on a busy
machine, the two children of one service chose bfloat16 and float32, and stored vectors of
both in one collection. Another model, backend, torch, OpenVINO, CPU, GPU or thread count
measures again; so does deleting the file.

Imported only in worker children: it pulls in torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pydantic
import torch

from embedapp.model import hardware, packed_linear
from embedapp.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

SPEEDUP_NEEDED = 1.3
TIMING_ROUNDS = 9
AGREEMENT_NEEDED = 0.9999
# Short and long, plain and technical: where a lower precision would drift, it shows here.
PROBES = [
    "Qdrant stores vectors and their payload.",
    "How do I reset my password?",
    "The quarterly report shows revenue grew 12% while costs fell.",
    "def add(a, b):\n    return a + b",
    "Heavy rain is expected across the north tomorrow morning, with strong winds.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "A SIGKILLed worker child loses its job, which the broker then redelivers.",
    "Le chat dort sur le rebord de la fenêtre.",
    " ".join(f"Sentence {i} describes the billing workflow in some detail." for i in range(30)),
    "Return the number of items in a container.",
    "The treaty was signed in 1648, ending thirty years of war in central Europe.",
    "GPU memory: 139 GiB; cores: 16; disk: 64 GiB.",
]


# Best ms of the model-sized product per (dtype, kernel).
KernelTimings = dict[tuple[torch.dtype, str], float]


@dataclass(frozen=True)
class Precision:
    """What the model's matrix products run in, and why (with the timings that decided it,
    which the kernel choice then reuses)."""

    dtype: torch.dtype
    reason: str
    timings: KernelTimings = field(default_factory=dict)

    @property
    def name(self) -> str:
        return dtype_name(self.dtype)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


FLOAT32 = torch.float32
# The backends `auto` measures a lower precision on (ONNX Runtime's is in the backend's name).
LOWER_PRECISION_BACKENDS = ("torch", "openvino")
# What runs the model in a precision for a while: torch's autocast, or another runtime's own.
RunIn = Callable[[torch.dtype], AbstractContextManager[object]]


def unsupported(dtype: str, device: str) -> str | None:
    """Why `dtype` cannot run on `device`; None when it can."""
    if dtype == "float32":
        return None
    if device.startswith("cuda"):
        if dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
            return "this GPU has no bfloat16"
        return None
    if device == "cpu" and dtype == "bfloat16":
        return (
            None
            if torch.ops.mkldnn._is_mkldnn_bf16_supported()
            else "this CPU has no bfloat16 instructions (AVX512-BF16 or AMX)"
        )
    return f"{dtype} is not supported on {device}"


def cpu_kernels() -> list[str]:
    return ["default", "onednn"] if packed_linear.available() else ["default"]


def kernel_timings(dtypes: Sequence[torch.dtype]) -> KernelTimings:
    """The best ms of a model-sized product in each dtype on each kernel, all taking turns
    (packed_linear.products_ms)."""
    timed = [(dtype, kernel) for dtype in dtypes for kernel in cpu_kernels()]
    variants = [(dtype, kernel == "onednn") for dtype, kernel in timed]
    return dict(zip(timed, packed_linear.products_ms(variants, TIMING_ROUNDS), strict=True))


def fastest_ms(timings: KernelTimings, dtype: torch.dtype) -> float:
    return min(ms for (timed, _), ms in timings.items() if timed == dtype)


def autocast_in(device: str) -> RunIn:
    return lambda dtype: torch.autocast(device.split(":")[0], dtype=dtype)


def agreement(
    model: SentenceTransformer, dtype: torch.dtype, device: str, run_in: RunIn | None = None
) -> float:
    """Mean cosine between the probes' vectors in float32 and in `dtype` (torch's autocast
    unless `run_in` says otherwise)."""

    def vectors() -> np.ndarray:
        return model.encode(
            PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    reference = vectors()
    with (run_in or autocast_in(device))(dtype):
        lower = vectors()
    return float(np.mean(np.sum(reference * lower, axis=1)))


def choose(
    settings: Settings, device: str, model: SentenceTransformer, run_in: RunIn | None = None
) -> Precision:
    """The precision for this child's model (auto: measured here, now, with the model run
    by `run_in` where torch's autocast does not run it)."""
    if settings.backend not in LOWER_PRECISION_BACKENDS:
        return Precision(FLOAT32, f"the {settings.backend} backend")
    if settings.dtype != "auto":
        reason = unsupported(settings.dtype, device)
        if reason:
            log.warning("EMBEDAPP_DTYPE=%s: %s; running in float32", settings.dtype, reason)
            return Precision(FLOAT32, f"{settings.dtype} asked for, but {reason}")
        return Precision(getattr(torch, settings.dtype), "EMBEDAPP_DTYPE")
    candidate = "float16" if device.startswith("cuda") else "bfloat16" if device == "cpu" else None
    if candidate is None:
        return Precision(FLOAT32, f"auto: float32 on {device}")
    reason = unsupported(candidate, device)
    if reason:
        return Precision(FLOAT32, f"auto: {reason}")
    lower = getattr(torch, candidate)
    measured, timings = "", {}
    if device == "cpu":
        timings = kernel_timings([FLOAT32, lower])
        speedup = fastest_ms(timings, FLOAT32) / fastest_ms(timings, lower)
        if speedup < SPEEDUP_NEEDED:
            return Precision(
                FLOAT32,
                f"auto: {candidate} only {speedup:.2f}x as fast as float32 on this CPU "
                f"(needs {SPEEDUP_NEEDED}x)",
                timings,
            )
        measured = f"{speedup:.2f}x as fast as float32, "
    cosine = agreement(model, lower, device, run_in)
    if cosine < AGREEMENT_NEEDED:
        return Precision(
            FLOAT32,
            f"auto: {candidate} vectors agree with float32 to a mean cosine of {cosine:.6f} "
            f"(needs {AGREEMENT_NEEDED})",
            timings,
        )
    return Precision(lower, f"auto: {measured}mean cosine {cosine:.6f} to float32", timings)


DtypeName = Literal["float32", "bfloat16", "float16"]


class Kept(pydantic.BaseModel):
    """A child's `auto` decision as data_dir/precision keeps it for the children after it."""

    conditions: dict[str, str]
    dtype: DtypeName
    reason: str
    timings: list[tuple[DtypeName, str, float]]  # (dtype, kernel, ms)
    measured_at: datetime
    pid: int

    def precision(self, path: Path) -> Precision:
        return Precision(
            getattr(torch, self.dtype),
            f"{self.reason}; measured by pid {self.pid} at "
            f"{self.measured_at:%Y-%m-%d %H:%M:%S} UTC, kept in {path}",
            {(getattr(torch, of), kernel): ms for of, kernel, ms in self.timings},
        )


def conditions(settings: Settings, device: str, fingerprint: str) -> dict[str, str]:
    """What an `auto` decision depends on: another value of any of these measures again."""
    found = {
        "model": fingerprint,
        "backend": settings.backend,
        "device": device,
        "hardware": torch.cuda.get_device_name(device)
        if device.startswith("cuda")
        else f"{hardware.cpu().name} ({' '.join(hardware.cpu().instructions)})",
        "torch": torch.__version__,
        "threads": str(torch.get_num_threads()),
    }
    if settings.backend == "openvino":
        found["openvino"] = metadata.version("openvino")
    return found


def remembered(
    settings: Settings, measured_under: dict[str, str], measure: Callable[[], Precision]
) -> Precision:
    """The decision kept for these conditions, or `measure()`'s, then kept. Children starting
    together call this one at a time (embedder._taking_turns)."""
    if settings.dtype != "auto" or settings.backend not in LOWER_PRECISION_BACKENDS:
        return measure()  # nothing to measure: the settings decide
    key = hashlib.sha256(json.dumps(measured_under, sort_keys=True).encode()).hexdigest()
    path = settings.data_dir / "precision" / f"{key[:16]}.json"
    try:
        kept = Kept.model_validate_json(path.read_bytes())
        if kept.conditions == measured_under:
            return kept.precision(path)
    except FileNotFoundError:
        pass
    except (OSError, pydantic.ValidationError) as exc:
        log.warning("measuring the precision again: %s is unreadable (%s)", path, exc)
    chosen = measure()
    kept = Kept(
        conditions=measured_under,
        dtype=chosen.name,
        reason=chosen.reason,
        timings=[(dtype_name(of), kernel, ms) for (of, kernel), ms in chosen.timings.items()],
        measured_at=datetime.now(UTC),
        pid=os.getpid(),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = path.with_suffix(f".{os.getpid()}.tmp")
        written.write_text(kept.model_dump_json(indent=2))
        written.replace(path)  # whole or not at all, whoever reads it
    except OSError as exc:
        log.warning("the precision measured here is not kept for the next child: %s", exc)
    return chosen
