"""The two-layer perceptron of ``bpttlab.numpy.mlp`` in torch ops."""

from __future__ import annotations

import torch

from bpttlab._checks import check_choice, check_mlp_params
from bpttlab.params import MLPParams, check_params_type
from bpttlab.torch import layers

ACTIVATIONS = {"tanh": layers.tanh_forward, "sigmoid": layers.sigmoid_forward, "relu": layers.relu_forward}


def forward(x: torch.Tensor, params: MLPParams, activation: str = "tanh") -> torch.Tensor:
    """y = W_2 f(W_1 x + b_1) + b_2.  x (N, D) -> y (N, O)."""
    check_params_type("params", params, MLPParams)
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_mlp_params(params, x, "torch")
    z = ACTIVATIONS[activation](layers.affine_forward(x, params.W_1, params.b_1))
    return layers.affine_forward(z, params.W_2, params.b_2)
