"""Layers as forward/backward pairs, written by hand in NumPy.

Each ``*_forward`` returns its output and a cache; the matching ``*_backward``
takes the upstream gradient and the cache and returns the downstream gradients.
Leading axes are batch-like: an affine layer maps ``(..., D)`` to ``(..., M)``.
"""

from __future__ import annotations

from typing import NamedTuple, cast

import numpy as np

from bpttlab._checks import (
    check_choice,
    check_float_array,
    check_float_input,
    check_int_array,
    check_same_dtype,
    check_shape,
    check_type,
)
from bpttlab.numpy.activations import sigmoid, sigmoid_grad, softmax_xent, tanh_grad

REDUCTIONS = ("mean", "sum")


def _upstream(name: str, value: object, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An upstream gradient: a finite float array of the forward output's shape and dtype."""
    check_float_input(name, value, str(shape), 0)
    check_shape(name, value, shape, [str(n) for n in shape])
    check_same_dtype(name, value, "the forward pass", dtype)
    return cast(np.ndarray, value)  # check_float_input raised unless it is one


# ----------------------------------------------------------------- affine


class AffineCache(NamedTuple):
    x: np.ndarray
    W: np.ndarray


def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """out = x W^T + b.  x (..., D), W (M, D), b (M,) -> out (..., M)."""
    check_float_input("x", x, "(..., D)")
    check_float_input("W", W, "(M, D)")
    check_float_input("b", b, "(M,)")
    if W.ndim != 2:
        raise ValueError(f"W: expected 2 axes (M, D), got shape {W.shape}")
    check_float_array("b", b, ("M",))
    check_shape("b", b, (W.shape[0],), ["M"])
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"x: expected last axis D = {W.shape[1]} (from W), got shape {x.shape}")
    check_same_dtype("W", W, "x", x.dtype)
    check_same_dtype("b", b, "x", x.dtype)
    return x @ W.T + b, AffineCache(x, W)


def affine_backward(dout: np.ndarray, cache: AffineCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of out = x W^T + b.  dout (..., M) -> dx (..., D), dW (M, D), db (M,)."""
    check_type("cache", cache, AffineCache, "the AffineCache of affine_forward")
    x, W = cache.x, cache.W
    _upstream("dout", dout, x.shape[:-1] + (W.shape[0],), x.dtype)
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
    check_float_input("a", a)
    h = np.tanh(a)
    return h, ActivationCache(h, a)


def tanh_backward(dh: np.ndarray, cache: ActivationCache) -> np.ndarray:
    """da = dh * (1 - h^2)."""
    _activation_cache(cache)
    _upstream("dh", dh, cache.out.shape, cache.out.dtype)
    return dh * tanh_grad(cache.out)


def sigmoid_forward(a: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    """s = 1 / (1 + exp(-a)), elementwise, computed without overflow."""
    check_float_input("a", a)
    s = sigmoid(a)
    return s, ActivationCache(s, a)


def sigmoid_backward(ds: np.ndarray, cache: ActivationCache) -> np.ndarray:
    """da = ds * s * (1 - s)."""
    _activation_cache(cache)
    _upstream("ds", ds, cache.out.shape, cache.out.dtype)
    return ds * sigmoid_grad(cache.out)


def relu_forward(a: np.ndarray) -> tuple[np.ndarray, ActivationCache]:
    """r = max(a, 0), elementwise."""
    check_float_input("a", a)
    r = np.maximum(a, 0.0)
    return r, ActivationCache(r, a)


def relu_backward(dr: np.ndarray, cache: ActivationCache) -> np.ndarray:
    """da = dr where a > 0, else 0 (the subgradient 0 is taken at a = 0)."""
    _activation_cache(cache)
    _upstream("dr", dr, cache.out.shape, cache.out.dtype)
    return dr * (cache.a > 0)


# ----------------------------------------------------------------- losses


def _reduce_scale(reduction: str, n: int) -> float:
    check_choice("reduction", reduction, REDUCTIONS)
    return 1.0 / n if reduction == "mean" else 1.0


def mse_loss(pred: np.ndarray, target: np.ndarray, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """L = mean (or sum) of (pred - target)^2 over all elements; returns (L, dL/dpred)."""
    check_choice("reduction", reduction, REDUCTIONS)
    check_float_input("pred", pred)
    check_float_input("target", target)
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
    check_choice("reduction", reduction, REDUCTIONS)
    check_float_input("logits", logits, "(..., C)")
    check_int_array("labels", labels)
    check_shape("labels", labels, logits.shape[:-1], [str(s) for s in logits.shape[:-1]])
    C = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels: expected class indices in [0, {C - 1}], got range [{labels.min()}, {labels.max()}]")
    scale = _reduce_scale(reduction, labels.size)
    losses, dlogits = softmax_xent(logits, labels)
    return scale * float(losses.sum()), scale * dlogits


def _activation_cache(cache: object) -> None:
    check_type("cache", cache, ActivationCache, "the ActivationCache of an activation's forward function")
