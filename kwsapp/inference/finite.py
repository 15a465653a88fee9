"""A cheap all-finite check for the live pipeline's hot path."""

from __future__ import annotations

import math

import numpy as np


def all_finite(x: np.ndarray) -> bool:
    """Whether every value of the 1-D ``x`` is finite. One dot product is
    finite when every value is (half the cold cost of ``np.isfinite`` on an
    80 ms block or a probability row); only when it is not (a NaN or inf, or
    squares that overflow) are the values looked at one by one."""
    return math.isfinite(float(np.dot(x, x))) or bool(np.all(np.isfinite(x)))
