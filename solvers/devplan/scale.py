"""Integer scaling for CP-SAT: the smallest power of ten (up to 10^6) that makes values whole."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["int_scale"]


def int_scale(values: np.ndarray, *, up: bool, limit: float = 1e12) -> tuple[int, np.ndarray]:
    """(factor, scaled integers). ``up`` rounds non-whole scaled values up (demands), else to
    the nearest integer (objective values); the factor stays small enough that the largest
    scaled value is below ``limit``."""
    v = np.asarray(values, dtype=np.float64)
    top = float(np.abs(v).max(initial=0.0))
    f = 1
    while f < 10**6 and np.any(
        np.abs(v * f - np.round(v * f)) > 1e-9 * np.maximum(1.0, np.abs(v * f))
    ):
        if (f * 10) * top > limit:
            break
        f *= 10
    s = v * f
    out = np.ceil(s - 1e-9) if up else np.round(s)
    return f, out.astype(np.int64)


def floor_scaled(x: float, f: int) -> int:
    return math.floor(x * f + 1e-9)
