"""Seeded toy tasks. Nothing is downloaded: every array is generated here."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab._checks import check_generator, check_positive_int


class SequenceBatch(NamedTuple):
    """Inputs x (T, B, D) and per-step targets y (T, B, O)."""

    x: np.ndarray
    y: np.ndarray


def noisy_sine(
    T: int,
    B: int,
    rng: np.random.Generator,
    noise: float = 0.05,
    period_range: tuple[float, float] = (8.0, 24.0),
    dtype: object = np.float64,
) -> SequenceBatch:
    """Next-value prediction on noisy sine waves: x_t = s_t + noise, y_t = s_{t+1}.

    Each sequence gets its own period (uniform in period_range, in steps) and phase.
    The target is the clean next value, so the best possible mean squared error is
    the error of predicting the clean signal, not zero noise.
    Returns x (T, B, 1) and y (T, B, 1).
    """
    T, B = check_positive_int("T", T), check_positive_int("B", B)
    check_generator("rng", rng)
    if noise < 0:
        raise ValueError(f"noise: expected a standard deviation >= 0, got {noise}")
    lo, hi = period_range
    if not 0 < lo <= hi:
        raise ValueError(f"period_range: expected 0 < low <= high, got {period_range}")
    period = rng.uniform(lo, hi, size=B)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=B)
    t = np.arange(T + 1)[:, None]
    clean = np.sin(2.0 * np.pi * t / period + phase)
    x = clean[:-1] + noise * rng.standard_normal((T, B))
    y = clean[1:]
    return SequenceBatch(x[..., None].astype(dtype), y[..., None].astype(dtype))
