"""The workers' startup timings, faked for the tests of what they decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from embedapp.model import precision


def fake_timings(monkeypatch: pytest.MonkeyPatch, ms: Callable[[Any, str], float]) -> None:
    """precision.kernel_timings answers `ms(dtype, kernel)` for each, without timing."""
    monkeypatch.setattr(
        precision,
        "kernel_timings",
        lambda dtypes: {(d, k): ms(d, k) for d in dtypes for k in precision.cpu_kernels()},
    )
