"""Linear layers on oneDNN with their weights packed once, for inference on a CPU.

torch's float32 linear calls MKL's sgemm, which packs the weight again on every call. On
a 2-core AMD EPYC VM oneDNN with the weights packed once ran the model's products 1.1-1.4x
faster, to within 3e-6; on a CPU where MKL is at its best it may not. So the worker times
both kernels at startup and keeps the faster (see embedapp.backends).

Imported only in worker children: it pulls in torch.
"""

from __future__ import annotations

import contextlib
import time

import torch


def available() -> bool:
    """Whether this torch build has oneDNN and the packed-linear operators."""
    return torch.backends.mkldnn.is_available() and all(
        hasattr(torch.ops.mkldnn, op) for op in ("_reorder_linear_weight", "_linear_pointwise")
    )


class PackedLinear(torch.nn.Module):
    """An nn.Linear whose weight oneDNN packed once, in `dtype`: inference on the CPU only."""

    def __init__(self, linear: torch.nn.Linear, dtype: torch.dtype) -> None:
        super().__init__()
        self.in_features, self.out_features, self.dtype = (
            linear.in_features,
            linear.out_features,
            dtype,
        )
        # Plain attributes, not buffers: a packed tensor must not be moved or cast by
        # Module.to(), which SentenceTransformer.encode calls on every call.
        self.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach().to(dtype))
        self.packed_bias = None if linear.bias is None else linear.bias.detach().to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(
            x.to(self.dtype), self.packed, self.packed_bias, "none", [], ""
        )

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {self.dtype}"


def pack_linear_layers(module: torch.nn.Module, dtype: torch.dtype) -> int:
    """Replace every nn.Linear inside `module` by a PackedLinear; how many were replaced."""
    replaced = 0
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, PackedLinear(child, dtype))
            replaced += 1
        else:
            replaced += pack_linear_layers(child, dtype)
    return replaced


def linear_ms(dtype: torch.dtype, *, packed: bool) -> float:
    """Best time of a model-sized (1024 × 384) · (384 × 1536) product, in ms: torch's own
    kernel (autocast below float32) or the packed one."""
    layer, tokens = torch.nn.Linear(384, 1536), torch.randn(1024, 384)
    run: torch.nn.Module = PackedLinear(layer, dtype) if packed else layer
    low = dtype != torch.float32 and not packed
    context = torch.autocast("cpu", dtype=dtype) if low else contextlib.nullcontext()
    best = float("inf")
    with torch.inference_mode(), context:
        for _ in range(3):  # in each of precision.TIMING_ROUNDS
            started = time.perf_counter()
            run(tokens)
            best = min(best, time.perf_counter() - started)
    return best * 1000
