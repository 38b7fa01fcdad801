"""Linear layers on oneDNN with their weights packed once, for inference on a CPU.

torch's float32 linear calls MKL's sgemm, which packs the weight again on every call. On
a 2-core AMD EPYC VM oneDNN with the weights packed once ran the model's products 1.1-1.4x
faster, to within 3e-6; on an AVX2-only one MKL ran the model 1.1x faster. So the worker
times both kernels at startup and keeps the faster (see embedapp.backends).

Imported only in worker children: it pulls in torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

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


def products_ms(variants: Sequence[tuple[torch.dtype, bool]], rounds: int) -> list[float]:
    """Best time of a model-sized (1024 × 384) · (384 × 1536) product for each variant
    (dtype, packed): torch's own kernel (autocast below float32) or the packed one, in ms.

    The variants take turns, one product each per round, so that a stretch of noise (another
    child loading its model) slows them alike. Timed a few products in a row each, the one
    timed first often lost: on an AVX2 CPU where the default kernel runs the model 1.1x
    faster, children served on oneDNN (docs/performance.md).
    """
    layer, tokens = torch.nn.Linear(384, 1536), torch.randn(1024, 384)
    runs = [_product(layer, dtype, packed) for dtype, packed in variants]
    best = [float("inf")] * len(runs)
    with torch.inference_mode():
        for _ in range(rounds):
            for i, run in enumerate(runs):
                started = time.perf_counter()
                run(tokens)
                best[i] = min(best[i], time.perf_counter() - started)
    return [seconds * 1000 for seconds in best]


def _product(
    layer: torch.nn.Linear, dtype: torch.dtype, packed: bool
) -> Callable[[torch.Tensor], torch.Tensor]:
    if packed:
        return PackedLinear(layer, dtype)
    if dtype == torch.float32:
        return layer

    def in_autocast(tokens: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=dtype):
            return layer(tokens)

    return in_autocast
