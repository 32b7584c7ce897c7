"""Gradient checks: relative error, central finite differences, random-direction checks.

Used by the tests and by the lessons, so that both check gradients the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bpttlab._checks import (
    check_callable,
    check_finite,
    check_float_input,
    check_generator,
    check_number,
    check_real_array,
    check_type,
)

# Below this norm the squares of the entries lose digits (they underflow near 1e-154); above the
# overflow threshold they overflow. Inside, the plain formula is used; outside, both arrays are
# first divided by their largest magnitude.
_TINY_NORM, _HUGE_NORM = 1e-150, 1e150


def _norm_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0.0 else float(np.linalg.norm(a - b) / scale)


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a||, ||b||) in the Frobenius norm; 0.0 when both are zero.

    A norm-wise relative error: unlike an elementwise ratio, it is not blown up by
    entries that are close to zero in both arrays. a and b: arrays (or numbers, lists,
    CPU tensors) of real numbers of the same shape; complex values are refused rather
    than losing their imaginary parts, and a common scale as large as 1e300 or as small
    as 1e-300 gives the same answer as scale 1.
    """
    a = check_real_array("a", a)
    b = check_real_array("b", b)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a, {a.shape}, got {b.shape}")
    check_finite("a", a)
    check_finite("b", b)
    with np.errstate(over="ignore", under="ignore"):
        scale = max(np.linalg.norm(a), np.linalg.norm(b))
        diff = np.linalg.norm(a - b)
    if _TINY_NORM <= scale <= _HUGE_NORM and np.isfinite(diff):
        return _norm_error(a, b)
    if scale == 0.0 and not (np.any(a) or np.any(b)):
        return 0.0
    # too large or too small to square: rescale both by the largest magnitude (exact for powers of 2 only,
    # but relative errors are invariant to it up to rounding)
    big = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return _norm_error(a / big, b / big)


def _output(name: str, value: Any) -> np.ndarray:
    """f's or loss's return value as a float64 array; non-numbers and non-finite values are refused."""
    try:
        out = check_real_array(name, value)
    except TypeError as err:
        raise TypeError(f"{name}: expected it to return a number or a float array; {err}") from None
    return out


def numerical_gradient(
    f: Callable[[], np.ndarray | float], x: np.ndarray, df: np.ndarray | float = 1.0, eps: float = 1e-6
) -> np.ndarray:
    """Central differences of sum(df * f()) with respect to each entry of ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place and restored.
    ``df`` is the upstream gradient (a number, or an array of the shape of f's output).
    Returns an array shaped like x. A non-finite output of f raises FloatingPointError
    naming the entry of x that was being perturbed.
    """
    check_callable("f", f, "a function of no arguments (it reads x)")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            f"x: expected a float64 numpy.ndarray (finite differences need float64), got "
            f"{getattr(x, 'dtype', type(x).__name__)}"
        )
    check_float_input("x", x, "(...)", 0)
    eps = check_number("eps", eps, positive=True)
    if isinstance(df, np.ndarray):
        check_float_input("df", df, "(shape of f())", 0)
    else:
        df = check_number("df", df)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        try:
            x[i] = old + eps
            plus = _output("f", f()).copy()
            x[i] = old - eps
            minus = _output("f", f()).copy()
        finally:
            x[i] = old
        if plus.shape != minus.shape:
            raise ValueError(f"f: returned shape {plus.shape}, then {minus.shape}, for the same x")
        if isinstance(df, np.ndarray) and df.ndim and df.shape != plus.shape:
            raise ValueError(f"df: expected the shape of f's output, {plus.shape}, got {df.shape}")
        if not (np.all(np.isfinite(plus)) and np.all(np.isfinite(minus))):
            raise FloatingPointError(f"f: returned a non-finite value with x{list(i)} moved by +-eps = {eps}")
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
    check_callable("loss", loss, "a function of no arguments returning a number")
    check_type("xs", xs, (list, tuple), "a list of float64 arrays")
    check_type("grads", grads, (list, tuple), "a list of arrays, one per array in xs")
    check_generator("rng", rng)
    eps = check_number("eps", eps, positive=True)
    if not xs:
        raise ValueError("xs: expected at least one array to move, got an empty list")
    if len(xs) != len(grads):
        raise ValueError(f"grads: expected one gradient per array in xs ({len(xs)}), got {len(grads)}")
    for k, (x, g) in enumerate(zip(xs, grads)):
        if not isinstance(x, np.ndarray) or x.dtype != np.float64:
            raise TypeError(f"xs[{k}]: expected a float64 numpy.ndarray, got {getattr(x, 'dtype', type(x).__name__)}")
        check_float_input(f"xs[{k}]", x, "(...)", 0)
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{k}]: expected a numpy.ndarray shaped like xs[{k}], got {type(g).__name__}")
        if np.shape(g) != x.shape:
            raise ValueError(f"grads[{k}]: expected shape {x.shape}, got {np.shape(g)}")
        check_float_input(f"grads[{k}]", g, "(...)", 0)
    vs = [rng.standard_normal(x.shape) for x in xs]
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in vs))
    vs = [v / norm for v in vs]
    analytic = float(sum(np.sum(g * v) for g, v in zip(grads, vs)))
    originals = [x.copy() for x in xs]
    try:
        for x, x0, v in zip(xs, originals, vs):
            x[...] = x0 + eps * v
        plus = _scalar_loss(loss())
        for x, x0, v in zip(xs, originals, vs):
            x[...] = x0 - eps * v
        minus = _scalar_loss(loss())
    finally:
        for x, x0 in zip(xs, originals):
            x[...] = x0
    return analytic, (plus - minus) / (2.0 * eps)


def _scalar_loss(value: Any) -> float:
    out = _output("loss", value)
    if out.size != 1:
        raise ValueError(f"loss: expected it to return one number, got an array of shape {out.shape}")
    if not np.isfinite(out).all():
        raise FloatingPointError("loss: returned a non-finite value along the random direction (lower eps?)")
    return float(out.reshape(()))
