"""Which precision the model runs in: the one asked for where the device has it, or with
EMBEDAPP_DTYPE=auto (the default) the one measured at startup to be faster and as good.

auto tries bfloat16 on a CPU and float16 on CUDA. A CPU must run a model-sized matrix
product at least SPEEDUP_NEEDED times faster in bfloat16 than in float32 (on the faster
kernel of each), and on every device the model's vectors for a fixed probe set must agree
with float32 to a mean cosine of at least AGREEMENT_NEEDED; otherwise float32.

Imported only in worker children: it pulls in torch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from embedapp.model import packed_linear
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
        return str(self.dtype).removeprefix("torch.")


FLOAT32 = torch.float32
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
    if settings.backend not in ("torch", "openvino"):
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
