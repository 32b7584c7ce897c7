"""Layers as forward/backward pairs, written by hand in NumPy.

Each ``*_forward`` returns its output and a cache; the matching ``*_backward``
takes the upstream gradient and the cache and returns the downstream gradients.
Leading axes are batch-like: an affine layer maps ``(..., D)`` to ``(..., M)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab._checks import check_choice, check_finite, check_same_dtype, check_shape, FLOAT_DTYPES
from bpttlab.numpy.activations import sigmoid, sigmoid_grad, softmax_xent, tanh_grad

REDUCTIONS = ("mean", "sum")


def _check_float(name: str, value: object) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    if value.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {value.shape}")
    check_finite(name, value)
    return value


def _check_upstream(name: str, value: object, like: np.ndarray) -> np.ndarray:
    _check_float(name, value)
    check_shape(name, value, like.shape, [f"{n}" for n in like.shape])
    return value


# ----------------------------------------------------------------- affine


class AffineCache(NamedTuple):
    x: np.ndarray
    W: np.ndarray


def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """out = x W^T + b.  x (..., D), W (M, D), b (M,) -> out (..., M)."""
    _check_float("x", x)
    _check_float("W", W)
    _check_float("b", b)
    if W.ndim != 2:
        raise ValueError(f"W: expected 2 axes (M, D), got shape {W.shape}")
    check_shape("b", b, (W.shape[0],), ["M"])
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"x: expected last axis D = {W.shape[1]} (from W), got shape {x.shape}")
    check_same_dtype("W", W, "x", x.dtype)
    check_same_dtype("b", b, "x", x.dtype)
    return x @ W.T + b, AffineCache(x, W)


def affine_backward(dout: np.ndarray, cache: AffineCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of out = x W^T + b.  dout (..., M) -> dx (..., D), dW (M, D), db (M,)."""
    x, W = cache.x, cache.W
    _check_upstream("dout", dout, np.empty(x.shape[:-1] + (W.shape[0],)))
    dx = dout @ W
    x2 = x.reshape(-1, x.shape[-1])
    d2 = dout.reshape(-1, W.shape[0])
    return dx, d2.T @ x2, d2.sum(axis=0)


# ----------------------------------------------------------------- activations


class ActivationCache(NamedTuple):
    out: np.ndarray
    a: np.ndarray


def tanh_forward(a: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    """h = tanh(a), elementwise."""
    _check_float("a", a)
    h = np.tanh(a)
    return h, ActivationCache(h, a)


def tanh_backward(dh: np.ndarray, cache: ActivationCache) -> np.ndarray:
    """da = dh * (1 - h^2)."""
    _check_upstream("dh", dh, cache.out)
    return dh * tanh_grad(cache.out)


def sigmoid_forward(a: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    """s = 1 / (1 + exp(-a)), elementwise, computed without overflow."""
    _check_float("a", a)
    s = sigmoid(a)
    return s, ActivationCache(s, a)


def sigmoid_backward(ds: np.ndarray, cache: ActivationCache) -> np.ndarray:
    """da = ds * s * (1 - s)."""
    _check_upstream("ds", ds, cache.out)
    return ds * sigmoid_grad(cache.out)


def relu_forward(a: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    """r = max(a, 0), elementwise."""
    _check_float("a", a)
    r = np.maximum(a, 0.0)
    return r, ActivationCache(r, a)


def relu_backward(dr: np.ndarray, cache: ActivationCache) -> np.ndarray:
    """da = dr where a > 0, else 0 (the subgradient 0 is taken at a = 0)."""
    _check_upstream("dr", dr, cache.out)
    return dr * (cache.a > 0)


# ----------------------------------------------------------------- losses


def _reduce_scale(reduction: str, n: int) -> float:
    check_choice("reduction", reduction, REDUCTIONS)
    return 1.0 / n if reduction == "mean" else 1.0


def mse_loss(pred: np.ndarray, target: np.ndarray, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """L = mean (or sum) of (pred - target)^2 over all elements; returns (L, dL/dpred)."""
    _check_float("pred", pred)
    _check_float("target", target)
    check_shape("target", target, pred.shape, [str(s) for s in pred.shape])
    check_same_dtype("target", target, "pred", pred.dtype)
    scale = _reduce_scale(reduction, pred.size)
    diff = pred - target
    with np.errstate(over="ignore"):
        loss = float(scale * np.sum(diff**2))
    if not np.isfinite(loss):
        raise FloatingPointError("pred: the squared error overflowed (predictions too large); training has diverged")
    return loss, (2.0 * scale) * diff


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """L = mean (or sum) of -log softmax(logits)[label].  logits (..., C), labels (...) int.

    Returns (L, dL/dlogits).
    """
    _check_float("logits", logits)
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"labels: expected an integer numpy.ndarray, got "
            f"{getattr(labels, 'dtype', type(labels).__name__)}"
        )
    check_shape("labels", labels, logits.shape[:-1], [str(s) for s in logits.shape[:-1]])
    C = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels: expected class indices in [0, {C - 1}], got range [{labels.min()}, {labels.max()}]")
    scale = _reduce_scale(reduction, labels.size)
    losses, dlogits = softmax_xent(logits, labels)
    return scale * float(losses.sum()), scale * dlogits
