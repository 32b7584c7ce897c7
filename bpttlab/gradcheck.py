"""Gradient checks: relative error, central finite differences, random-direction checks.

Used by the tests and by the lessons, so that both check gradients the same way.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from bpttlab._checks import check_generator


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a||, ||b||) in the Frobenius norm; 0.0 when both are zero.

    A norm-wise relative error: unlike an elementwise ratio, it is not blown up by
    entries that are close to zero in both arrays.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a, {a.shape}, got {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise FloatingPointError("a, b: rel_error of non-finite values is undefined")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0.0 else float(np.linalg.norm(a - b) / scale)


def numerical_gradient(
    f: Callable[[], np.ndarray | float], x: np.ndarray, df: np.ndarray | float = 1.0, eps: float = 1e-6
) -> np.ndarray:
    """Central differences of sum(df * f()) with respect to each entry of ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place and restored.
    ``df`` is the upstream gradient (the shape of f's output). Returns an array shaped like x.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"x: expected a float64 numpy.ndarray (finite differences need float64), got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if not eps > 0:
        raise ValueError(f"eps: expected a positive step, got {eps}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        try:
            x[i] = old + eps
            plus = np.asarray(f(), dtype=np.float64).copy()
            x[i] = old - eps
            minus = np.asarray(f(), dtype=np.float64).copy()
        finally:
            x[i] = old
        grad[i] = np.sum(np.asarray(df) * (plus - minus)) / (2.0 * eps)
    return grad


def directional_check(
    loss: Callable[[], float],
    xs: list[np.ndarray],
    grads: list[np.ndarray],
    rng: np.random.Generator,
    eps: float = 1e-5,
) -> tuple[float, float]:
    """Compare the analytic slope sum_i <grads[i], v_i> with a finite difference along a random v.

    ``loss`` takes no arguments and reads the arrays in ``xs``, which are moved along
    a random unit direction v (in place) and restored. One check costs two loss
    evaluations whatever the number of parameters, so it suits long sequences.
    Returns (analytic slope, numerical slope).
    """
    check_generator("rng", rng)
    if len(xs) != len(grads):
        raise ValueError(f"grads: expected one gradient per array in xs ({len(xs)}), got {len(grads)}")
    for k, (x, g) in enumerate(zip(xs, grads)):
        if not isinstance(x, np.ndarray) or x.dtype != np.float64:
            raise TypeError(f"xs[{k}]: expected a float64 numpy.ndarray")
        if np.shape(g) != x.shape:
            raise ValueError(f"grads[{k}]: expected shape {x.shape}, got {np.shape(g)}")
    vs = [rng.standard_normal(x.shape) for x in xs]
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in vs))
    vs = [v / norm for v in vs]
    analytic = float(sum(np.sum(g * v) for g, v in zip(grads, vs)))
    originals = [x.copy() for x in xs]
    try:
        for x, x0, v in zip(xs, originals, vs):
            x[...] = x0 + eps * v
        plus = float(loss())
        for x, x0, v in zip(xs, originals, vs):
            x[...] = x0 - eps * v
        minus = float(loss())
    finally:
        for x, x0 in zip(xs, originals):
            x[...] = x0
    return analytic, (plus - minus) / (2.0 * eps)
