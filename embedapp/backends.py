"""How the model runs: torch (float32, or bfloat16/float16 autocast where the hardware has
it) or ONNX Runtime (float32 or dynamically quantized int8), exported locally and cached.

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
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from embedapp.settings import Settings

if TYPE_CHECKING:
    from optimum.onnxruntime.configuration import QuantizationConfig
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

ONNX_FILE = "onnx/model.onnx"


def _precision_supported(dtype: str, device: str) -> str | None:
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
            else ("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX)")
        )
    return f"{dtype} is not supported on {device}"


def precision(settings: Settings, device: str) -> Callable[[], AbstractContextManager[object]]:
    """What to run each model call in: autocast to the requested dtype, or nothing.

    Autocast keeps the weights (and LayerNorm, softmax) in float32 and runs the matrix
    products in the lower precision: most of the speed, almost none of the error.
    """
    if settings.backend != "torch" or settings.dtype == "float32":
        return contextlib.nullcontext
    reason = _precision_supported(settings.dtype, device)
    if reason:
        log.warning("EMBEDAPP_DTYPE=%s: %s; running in float32", settings.dtype, reason)
        return contextlib.nullcontext
    dtype = getattr(torch, settings.dtype)
    device_type = device.split(":")[0]
    log.info("running the model in %s autocast on %s", settings.dtype, device)
    if device == "cpu":
        fp32_ms, low_ms = _matmul_ms(None), _matmul_ms(dtype)
        if low_ms > fp32_ms:
            # Seen on a VM whose CPU lists AVX512-BF16 but runs it slower than float32.
            log.warning(
                "EMBEDAPP_DTYPE=%s: a model-sized matrix product takes %.1f ms on this CPU "
                "against %.1f ms in float32; float32 is faster here",
                settings.dtype, low_ms, fp32_ms,
            )  # fmt: skip
    return lambda: torch.autocast(device_type, dtype=dtype)


def _matmul_ms(dtype: torch.dtype | None) -> float:
    """Best time of a (1024 × 384) · (384 × 1536) product on the CPU, in `dtype` autocast."""
    layer, tokens = torch.nn.Linear(384, 1536), torch.randn(1024, 384)
    context = torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()
    best = float("inf")
    with torch.inference_mode(), context:
        for _ in range(5):
            started = time.perf_counter()
            layer(tokens)
            best = min(best, time.perf_counter() - started)
    return best * 1000


def _quantization_target() -> str:
    """sentence-transformers' dynamic int8 configuration for this CPU."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "arm64"
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
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


def _local_files(source: str) -> Path:
    """The model's folder: a local path as given, a hub name from the local hub cache."""
    if os.path.isdir(source):
        return Path(source)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(source))


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


def load_onnx(settings: Settings, *, threads: int | None) -> SentenceTransformer:
    """The model on ONNX Runtime; exported (and quantized) from the local files on first use."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    folder = onnx_cache(settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    target = _quantization_target()
    suffix = f"qint8_{target}_matmul"
    file_name = f"onnx/model_{suffix}.onnx" if settings.backend == "onnx-int8" else ONNX_FILE
    # Prefork children start together: one exports, the others wait and then load.
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ONNX_FILE).exists():
            log.info("exporting %s to ONNX in %s (once)", settings.model_id, folder)
            staging = folder.with_name(folder.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(_local_files(settings.model_source), staging)
            exported = SentenceTransformer(str(staging), backend="onnx", device="cpu")
            exported.save_pretrained(str(staging))
            os.replace(staging, folder)  # only a complete export is ever found
        if not (folder / file_name).exists():
            log.info("quantizing %s to int8 (%s), once", settings.model_id, target)
            model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
            export_dynamic_quantized_onnx_model(
                model, _quantization_config(target), str(folder), file_suffix=suffix
            )
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
