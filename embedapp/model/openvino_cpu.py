"""The transformer on OpenVINO's CPU runtime (EMBEDAPP_BACKEND=openvino).

OpenVINO reads the model's ONNX export (made once, as for the onnx backend) and compiles it
for float32 and, where chosen, bfloat16. Only the transformer's forward is replaced:
sentence-transformers still tokenizes, pools and normalizes, so the vectors are made the way
the model's own files say. (Reading ONNX rather than converting the torch module in each
child also keeps OpenVINO's converter, which reports usage over the network, out of it.)

Why a second runtime: in bfloat16, OpenVINO runs attention, GELU and LayerNorm in fused
bfloat16 kernels, where torch's autocast speeds only the matrix products (attention kept
31% of the model's time). Measured in docs/performance.md.

Imported only in worker children: it pulls in torch and OpenVINO.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

# `import openvino` reports itself to Google Analytics (and writes under $HOME) unless the
# user opted out in a file there: a service must not call out. With its telemetry package
# hidden, OpenVINO falls back to its own no-op stub.
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
import openvino  # noqa: E402

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

HINTS = {torch.float32: "f32", torch.bfloat16: "bf16"}


class OpenVINOTransformer:
    """The model's transformer, compiled by OpenVINO, standing in for its torch forward."""

    def __init__(self, model: SentenceTransformer, onnx_file: Path, *, threads: int | None) -> None:
        self.core = openvino.Core()
        self.graph = self.core.read_model(onnx_file)
        self.inputs = [port.get_any_name() for port in self.graph.inputs]
        self.threads = threads
        self.compiled: dict[torch.dtype, openvino.CompiledModel] = {}
        self.active = self.compile(torch.float32)
        # An instance attribute shadows the class's forward; sentence-transformers calls it.
        model[0].auto_model.forward = self.forward

    def compile(self, dtype: torch.dtype) -> openvino.CompiledModel:
        if dtype not in self.compiled:
            config: dict[str, object] = {
                "INFERENCE_PRECISION_HINT": HINTS[dtype],
                "PERFORMANCE_HINT": "LATENCY",
                # Each process pins its threads from core 0 otherwise: two one-thread
                # children shared one core, each taking twice as long (measured).
                "ENABLE_CPU_PINNING": False,
            }
            if self.threads:
                config["INFERENCE_NUM_THREADS"] = self.threads
            self.compiled[dtype] = self.core.compile_model(self.graph, "CPU", config)
        return self.compiled[dtype]

    @contextlib.contextmanager
    def running_in(self, dtype: torch.dtype) -> Iterator[None]:
        """Run the model in `dtype` for a while (the precision probe)."""
        before, self.active = self.active, self.compile(dtype)
        try:
            yield
        finally:
            self.active = before

    def use(self, dtype: torch.dtype) -> None:
        """Serve `dtype` from now on, and free the other compiled precisions."""
        self.active = self.compile(dtype)
        self.compiled = {dtype: self.active}
        version = openvino.__version__.split("-")[0]
        log.info("the transformer runs on OpenVINO %s in %s", version, HINTS[dtype])

    def forward(self, **features: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = self.active({name: features[name].numpy() for name in self.inputs})
        return {"last_hidden_state": torch.from_numpy(outputs[0])}
