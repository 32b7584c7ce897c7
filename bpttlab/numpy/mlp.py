"""A two-layer perceptron built from the layers in ``bpttlab.numpy.layers``.

y = W_2 f(W_1 x + b_1) + b_2, with x (N, D), W_1 (H, D), W_2 (O, H).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab._checks import (
    check_choice,
    check_finite,
    check_float_array,
    check_mlp_params,
    check_same_dtype,
    check_shape,
    check_type,
)
from bpttlab.numpy import layers
from bpttlab.params import MLPGrads, MLPParams, check_params_type

ACTIVATIONS = {
    "tanh": (layers.tanh_forward, layers.tanh_backward),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward),
    "relu": (layers.relu_forward, layers.relu_backward),
}


class MLPCache(NamedTuple):
    first: layers.AffineCache
    act: layers.ActivationCache
    second: layers.AffineCache
    activation: str


def forward(x: np.ndarray, params: MLPParams, activation: str = "tanh") -> tuple[np.ndarray, MLPCache]:
    """y = W_2 f(W_1 x + b_1) + b_2.  x (N, D) -> y (N, O)."""
    check_params_type("params", params, MLPParams)
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_mlp_params(params, x)
    a, first = layers.affine_forward(x, params.W_1, params.b_1)
    z, act = ACTIVATIONS[activation][0](a)
    y, second = layers.affine_forward(z, params.W_2, params.b_2)
    return y, MLPCache(first, act, second, activation)


def backward(dy: np.ndarray, cache: MLPCache) -> tuple[np.ndarray, MLPGrads]:
    """Reverse of ``forward``.  dy (N, O) -> dx (N, D) and MLPGrads."""
    check_type("cache", cache, MLPCache, "the MLPCache of mlp.forward")
    x, W_2 = cache.first.x, cache.second.W
    check_float_array("dy", dy, ("N", "O"))
    check_shape("dy", dy, (x.shape[0], W_2.shape[0]), ("N", "O"))
    check_same_dtype("dy", dy, "the forward pass", x.dtype)
    check_finite("dy", dy)
    dz, dW_2, db_2 = layers.affine_backward(dy, cache.second)
    da = ACTIVATIONS[cache.activation][1](dz, cache.act)
    dx, dW_1, db_1 = layers.affine_backward(da, cache.first)
    return dx, MLPGrads(dW_1, db_1, dW_2, db_2)
