"""Vectors on the wire: float32 little-endian bytes, base64 (a quarter of a JSON float list).

The same encoding OpenAI's `encoding_format="base64"` uses, so it passes through unchanged."""

import base64
from collections.abc import Sequence

import numpy as np


def encode_vector(vector: Sequence[float] | np.ndarray) -> str:
    """float32 little-endian bytes, base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(data: str) -> list[float]:
    """Inverse of encode_vector."""
    return np.frombuffer(base64.b64decode(data), dtype="<f4").tolist()
