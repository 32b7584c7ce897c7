"""The vanilla RNN of ``bpttlab.numpy.rnn`` in torch ops; BPTT is done by autograd.

Same names, arguments and layouts: x (T, B, D), h0 (B, H), hs (T, B, H),
W_xh (H, D), W_hh (H, H), b_h (H,).
"""

from __future__ import annotations

import torch

from bpttlab._checks import check_choice
from bpttlab.params import ReadoutParams, RNNParams, check_params_type
from bpttlab.torch._checks import check_dtype, check_shape, check_tensor
from bpttlab.torch import layers

ACTIVATIONS = ("tanh", "relu", "linear")


def _act(a: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "tanh":
        return torch.tanh(a)
    if activation == "relu":
        return torch.relu(a)
    return a


def check_params(params: RNNParams, D: int, dtype: torch.dtype) -> int:
    """Validate RNNParams of tensors; return H."""
    check_params_type("params", params, RNNParams)
    check_tensor("params.W_xh", params.W_xh, ("H", "D"))
    H = params.W_xh.shape[0]
    if params.W_xh.shape[1] != D:
        raise ValueError(f"params.W_xh: expected shape (H, D) with D = {D} (from x), got {tuple(params.W_xh.shape)}")
    check_tensor("params.W_hh", params.W_hh, ("H", "H"))
    check_shape("params.W_hh", params.W_hh, (H, H))
    check_tensor("params.b_h", params.b_h, ("H",))
    check_shape("params.b_h", params.b_h, (H,))
    for field in RNNParams._fields:
        check_dtype(f"params.{field}", getattr(params, field), "x", dtype)
    return H


def step_forward(
    x_t: torch.Tensor, h_prev: torch.Tensor, params: RNNParams, activation: str = "tanh"
) -> torch.Tensor:
    """h_t = f(W_xh x_t + W_hh h_prev + b_h).  x_t (B, D), h_prev (B, H) -> h_t (B, H)."""
    return _act(x_t @ params.W_xh.T + h_prev @ params.W_hh.T + params.b_h, activation)


def forward(x: torch.Tensor, h0: torch.Tensor, params: RNNParams, activation: str = "tanh") -> torch.Tensor:
    """Loop ``step_forward`` over time.  x (T, B, D), h0 (B, H) -> hs (T, B, H)."""
    check_choice("activation", activation, ACTIVATIONS)
    check_tensor("x", x, ("T", "B", "D"), time_axis=0)
    T, B, D = x.shape
    H = check_params(params, D, x.dtype)
    check_tensor("h0", h0, ("B", "H"))
    check_shape("h0", h0, (B, H))
    check_dtype("h0", h0, "x", x.dtype)
    h, hs = h0, []
    for t in range(T):
        h = step_forward(x[t], h, params, activation)
        hs.append(h)
    return torch.stack(hs)


def readout_forward(hs: torch.Tensor, readout: ReadoutParams) -> torch.Tensor:
    """y_t = W_hy h_t + b_y.  hs (T, B, H) -> ys (T, B, O)."""
    check_params_type("readout", readout, ReadoutParams)
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
    ys = readout_forward(forward(x, h0, params, activation), readout)
    return layers.mse_loss(ys, targets, reduction)


def states(x: torch.Tensor, h0: torch.Tensor, params: RNNParams, activation: str = "tanh") -> list[torch.Tensor]:
    """The state after t steps for t = 0..T (h0 first).  x (T, B, D) -> T + 1 tensors (B, H)."""
    hs = forward(x, h0, params, activation)
    return [h0] + list(hs.unbind(0))
