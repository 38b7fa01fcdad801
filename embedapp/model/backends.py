"""How the model runs: torch (float32, or bfloat16/float16 autocast where the hardware has
it; on a CPU, on the faster of two matrix-product kernels) or ONNX Runtime (float32 or
dynamically quantized int8), exported locally and cached.

Imported only in worker children: it pulls in torch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import platform
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from embedapp.model import files, hardware, packed_linear, precision
from embedapp.settings import Settings

if TYPE_CHECKING:
    from optimum.onnxruntime.configuration import QuantizationConfig
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

ONNX_FILE = "onnx/model.onnx"


def autocast(dtype: torch.dtype, device: str) -> Callable[[], AbstractContextManager[object]]:
    """What to run each model call in: autocast to `dtype`, or nothing for float32.

    Autocast keeps the weights (and LayerNorm, softmax) in float32 and runs the matrix
    products in the lower precision: most of the speed, almost none of the error.
    """
    if dtype == torch.float32:
        return contextlib.nullcontext
    log.info("running the model in %s autocast on %s", dtype, device)
    device_type = device.split(":")[0]
    return lambda: torch.autocast(device_type, dtype=dtype)


# oneDNN replaces torch's own kernel only where it is clearly faster. A child's first
# timings share the cores with the other worker's start: one measured torch's kernel at 15.9
# ms against 15.4, on a CPU where torch's runs the model 1.1x faster.
PACKED_SPEEDUP_NEEDED = 1.05


def tune_cpu(model: torch.nn.Module, settings: Settings, chosen: precision.Precision) -> str:
    """Run the linear layers on oneDNN where it is clearly the faster kernel of this CPU,
    else on torch's own (EMBEDAPP_CPU_MATMUL=auto times both, or reuses the timings that
    chose the precision), and warn where a lower precision turns out slower than float32."""
    dtype = chosen.dtype
    timed = list(dict.fromkeys([dtype, precision.FLOAT32]))
    timings = chosen.timings or precision.kernel_timings(timed)
    mine = {kernel: ms for (of, kernel), ms in timings.items() if of == dtype}
    packed_pays = "onednn" in mine and mine["default"] >= PACKED_SPEEDUP_NEEDED * mine["onednn"]
    choice = "onednn" if packed_pays else "default"
    if settings.cpu_matmul != "auto":
        choice = settings.cpu_matmul if settings.cpu_matmul in mine else "default"
        if choice != settings.cpu_matmul:
            log.warning(
                "EMBEDAPP_CPU_MATMUL=%s: this torch has no oneDNN packed linear; "
                "running torch's default kernel", settings.cpu_matmul,
            )  # fmt: skip
    if choice == "onednn":
        packed_linear.pack_linear_layers(model, dtype)
    log.info("linear layers on the %s kernel: %s", choice, _ms_each(mine))
    float32_ms = precision.fastest_ms(timings, precision.FLOAT32)
    if dtype != precision.FLOAT32 and mine[choice] > float32_ms:
        # Seen on a VM whose CPU lists AVX512-BF16 but runs it slower than float32.
        log.warning(
            "EMBEDAPP_DTYPE=%s: a model-sized matrix product takes %.1f ms on this CPU "
            "against %.1f ms in float32; float32 is faster here",
            settings.dtype, mine[choice], float32_ms,
        )  # fmt: skip
    return choice


def _ms_each(timings: dict[str, float]) -> str:
    return ", ".join(f"{kernel} {ms:.1f} ms" for kernel, ms in timings.items())


def _quantization_target() -> str:
    """sentence-transformers' dynamic int8 configuration for this CPU."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "arm64"
    flags = hardware.cpu().flags
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return "avx512" if "avx512f" in flags else "avx2"


def _quantization_config(target: str) -> QuantizationConfig:
    """Dynamic int8 for the matrix products only.

    The default also quantizes the embedding lookup and the other integer-capable ops: on
    the same vectors (mean cosine 0.991 to float32 either way) it ran 9% slower here.
    """
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    return getattr(AutoQuantizationConfig, target)(
        is_static=False, operators_to_quantize=["MatMul"]
    )


def onnx_cache(settings: Settings) -> Path:
    """Where this model's ONNX files live: next to the data, one folder per model source."""
    source = settings.model_source
    digest = hashlib.sha256(os.path.realpath(source).encode()).hexdigest()[:12]
    slug = settings.model_id.replace("/", "--")
    return settings.data_dir / "onnx" / f"{slug}-{digest}"


def _onnx_session_options(threads: int | None) -> object:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def export_onnx(settings: Settings, file_name: str = ONNX_FILE) -> Path:
    """The model's ONNX files (the folder), exported (and quantized to int8 where
    `file_name` asks) from the local files on first use."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    folder = onnx_cache(settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Prefork children start together: one exports, the others wait and then load.
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ONNX_FILE).exists():
            log.info("exporting %s to ONNX in %s (once)", settings.model_id, folder)
            staging = folder.with_name(folder.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(files.local_files(settings.model_source), staging)
            exported = SentenceTransformer(str(staging), backend="onnx", device="cpu")
            exported.save_pretrained(str(staging))
            os.replace(staging, folder)  # only a complete export is ever found
        if not (folder / file_name).exists():
            target = _quantization_target()
            log.info("quantizing %s to int8 (%s), once", settings.model_id, target)
            model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
            export_dynamic_quantized_onnx_model(
                model, _quantization_config(target), str(folder), file_suffix=int8_suffix(target)
            )
    return folder


def int8_suffix(target: str) -> str:
    """Names the int8 file by the instructions it was quantized for."""
    return f"qint8_{target}_matmul"


def load_onnx(settings: Settings, *, threads: int | None) -> SentenceTransformer:
    """The model on ONNX Runtime."""
    from sentence_transformers import SentenceTransformer

    int8 = f"onnx/model_{int8_suffix(_quantization_target())}.onnx"
    file_name = int8 if settings.backend == "onnx-int8" else ONNX_FILE
    folder = export_onnx(settings, file_name)
    return SentenceTransformer(
        str(folder),
        backend="onnx",
        device="cpu",
        model_kwargs={
            "file_name": file_name,
            "provider": "CPUExecutionProvider",
            "session_options": _onnx_session_options(threads),
        },
    )
