"""The vanilla RNN of ``bpttlab.numpy.rnn`` in torch ops; BPTT is done by autograd.

Same functions, argument order, names and layouts as the NumPy cell (the contract of
``bpttlab.cells``): x (T, B, D), h0 (B, H), hs (T, B, H), W_xh (H, D), W_hh (H, H), b_h (H,).
"""

from __future__ import annotations

from typing import Any

import torch

from bpttlab import cells
from bpttlab._checks import (
    check_choice,
    check_finite,
    check_float_array,
    check_readout_params,
    check_same_dtype,
    check_shape,
    leading_dims,
)
from bpttlab.params import ReadoutParams, RNNGrads, RNNParams
from bpttlab.torch import _cell, layers
from bpttlab.torch._cell import Cache, StepCache

SPEC = cells.CELLS["rnn"]
ACTIVATIONS = SPEC.choices


def _step(x_t: torch.Tensor, h_prev: torch.Tensor, params: RNNParams, activation: str) -> torch.Tensor:
    a = x_t @ params.W_xh.T + h_prev @ params.W_hh.T + params.b_h
    if activation == "tanh":
        return torch.tanh(a)
    if activation == "relu":
        return torch.relu(a)
    return a


def step_forward(
    x_t: torch.Tensor, h_prev: torch.Tensor, params: RNNParams, activation: str = "tanh"
) -> tuple[torch.Tensor, StepCache]:
    """h_t = f(W_xh x_t + W_hh h_prev + b_h).  x_t (B, D), h_prev (B, H) -> h_t (B, H), cache."""
    return _cell.step_forward(SPEC, _step, x_t, h_prev, params, {"activation": activation})


def step_backward(dh_t: torch.Tensor, cache: StepCache) -> tuple[torch.Tensor, torch.Tensor, RNNGrads]:
    """Gradients of one step by autograd.  dh_t (B, H) -> dx_t (B, D), dh_prev (B, H), RNNGrads."""
    return _cell.step_backward(SPEC, _step, dh_t, cache)


def forward(
    x: torch.Tensor, h0: torch.Tensor, params: RNNParams, activation: str = "tanh"
) -> tuple[torch.Tensor, Cache]:
    """Loop the step over time.  x (T, B, D), h0 (B, H) -> hs (T, B, H), cache."""
    return _cell.forward(SPEC, _step, x, h0, params, {"activation": activation})


def backward(dhs: torch.Tensor, cache: Cache) -> tuple[torch.Tensor, torch.Tensor, RNNGrads]:
    """Full BPTT by autograd.  dhs (T, B, H) -> dx (T, B, D), dh0 (B, H), RNNGrads."""
    return _cell.backward(SPEC, _step, dhs, cache)


def states(x: torch.Tensor, h0: torch.Tensor, params: RNNParams, activation: str = "tanh") -> list[torch.Tensor]:
    """The state after t steps for t = 0..T (h0 first).  x (T, B, D) -> T + 1 tensors (B, H)."""
    return _cell.states(SPEC, _step, x, h0, params, {"activation": activation})


def state_at(cache: Cache, t: int) -> torch.Tensor:
    """The hidden state after t steps of the forward pass that made ``cache`` (t = 0 gives h0). (B, H)."""
    return _cell.state_at(SPEC, cache, t)


def zero_state(params: RNNParams, B: int) -> torch.Tensor:
    """The all-zero initial state h0 (B, H), in the dtype of the parameters."""
    return _cell.zero_state(SPEC, params, B)


def state_grads(dhs: torch.Tensor, cache: Cache) -> torch.Tensor:
    """Total gradients dL/dh_t (direct plus through later steps) by autograd.  dhs (T, B, H) -> (T, B, H)."""
    return _cell.state_grads(SPEC, _step, dhs, cache)


def readout_forward(hs: torch.Tensor, readout: ReadoutParams) -> torch.Tensor:
    """y_t = W_hy h_t + b_y.  hs (T, B, H) -> ys (T, B, O) (any leading axes: (..., H) -> (..., O))."""
    dims = leading_dims(hs, "H")
    check_float_array("hs", hs, dims, "torch")
    check_finite("hs", hs, time_axis=0 if len(dims) == 3 else None)
    check_readout_params("readout", readout, hs.shape[-1], hs.dtype, "torch")
    return layers.affine_forward(hs, readout.W_hy, readout.b_y)


def mse_loss(
    x: torch.Tensor,
    targets: torch.Tensor,
    h0: torch.Tensor,
    params: RNNParams,
    readout: ReadoutParams,
    reduction: str = "mean",
    activation: str = "tanh",
) -> torch.Tensor:
    """The loss of ``bpttlab.numpy.rnn.mse_loss_and_grads``; call ``.backward()`` for BPTT."""
    check_choice("activation", activation, ACTIVATIONS)
    hs, _ = forward(x, h0, params, activation)
    ys = readout_forward(hs, readout)
    check_float_array("targets", targets, ("T", "B", "O"), "torch")
    check_shape("targets", targets, ys.shape, ("T", "B", "O"))
    check_same_dtype("targets", targets, "x", x.dtype)
    check_finite("targets", targets, time_axis=0)
    return layers.mse_loss(ys, targets, reduction)


__all__: list[Any] = [
    "ACTIVATIONS",
    "Cache",
    "StepCache",
    "backward",
    "forward",
    "mse_loss",
    "readout_forward",
    "state_at",
    "state_grads",
    "states",
    "step_backward",
    "step_forward",
    "zero_state",
]
