"""Activations, their derivatives written in terms of their outputs, and softmax cross-entropy.

The one place the NumPy backend defines these; every layer and cell uses them.
Derivatives are taken from the output y = f(a), which the forward pass keeps anyway,
in factored form so that saturation loses no digits:

    tanh:     f'(a) = 1 - y^2 = (1 - y)(1 + y)    (1 - y is exact when y is near 1)
    sigmoid:  f'(a) = y (1 - y)
    relu:     f'(a) = 1 where y > 0, else 0     (the subgradient 0 at a = 0)
    linear:   f'(a) = 1
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("tanh", "relu", "linear")


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)), computed as (1 + tanh(a / 2)) / 2, which cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def tanh_grad(y: np.ndarray) -> np.ndarray:
    """tanh'(a) from y = tanh(a): (1 - y)(1 + y)."""
    return (1.0 - y) * (1.0 + y)


def sigmoid_grad(y: np.ndarray) -> np.ndarray:
    """sigmoid'(a) from y = sigmoid(a): y (1 - y)."""
    return y * (1.0 - y)


def activate(a: np.ndarray, activation: str) -> np.ndarray:
    """f(a) for f in ACTIVATIONS (the caller has checked ``activation``)."""
    if activation == "tanh":
        return np.tanh(a)
    if activation == "relu":
        return np.maximum(a, 0.0)
    return a


def activation_grad(y: np.ndarray, activation: str) -> np.ndarray:
    """f'(a) written in terms of y = f(a)."""
    if activation == "tanh":
        return tanh_grad(y)
    if activation == "relu":
        return (y > 0).astype(y.dtype)
    return np.ones_like(y)


def softmax_xent(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-position -log softmax(logits)[label] and its gradient with respect to the logits.

    logits (..., C) float, labels (...) int in [0, C) (checked by the caller) ->
    (losses (...), dlogits (..., C) = softmax(logits) - onehot(label)), unscaled: the caller
    weights and sums them.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    losses = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    dlogits = np.exp(log_p)
    np.put_along_axis(
        dlogits, labels[..., None], np.take_along_axis(dlogits, labels[..., None], axis=-1) - 1.0, axis=-1
    )
    return losses, dlogits
