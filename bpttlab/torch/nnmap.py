"""Map bpttlab parameters to and from torch.nn.RNN / LSTM / GRU (one layer, time-first).

Gate order and biases, as torch.nn stores them (``_l0`` suffix: layer 0):

- RNN:  weight_ih (H, D) = W_xh, weight_hh (H, H) = W_hh, bias_ih + bias_hh = b_h.
- LSTM: blocks [i, f, g, o]; weight_ih (4H, D) = W_x, weight_hh (4H, H) = W_h, bias_ih + bias_hh = b.
- GRU:  blocks [r, z, n]; weight_ih (3H, D) = W_x, weight_hh (3H, H) = W_h, bias_ih = b_x, bias_hh = b_h.
  torch.nn.GRU computes the "torch" variant (reset gate applied after W_hn h + b_hn).

RNN and LSTM use one bias vector in bpttlab, two in torch: to_nn puts it in bias_ih and
zeros in bias_hh; from_nn adds the two (the model computes the same function).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bpttlab.params import GRUParams, LSTMParams, RNNParams

_NN = {RNNParams: torch.nn.RNN, LSTMParams: torch.nn.LSTM, GRUParams: torch.nn.GRU}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(a))


def to_nn(params: Any, nonlinearity: str = "tanh") -> torch.nn.Module:
    """A one-layer torch.nn module (float64 if the params are) computing the same function."""
    cls = _NN.get(type(params))
    if cls is None:
        raise TypeError(f"params: expected RNNParams, LSTMParams or GRUParams, got {type(params).__name__}")
    dtype = torch.float64 if np.asarray(params[0]).dtype == np.float64 else torch.float32
    if isinstance(params, RNNParams):
        H, D = params.W_xh.shape
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: torch.nn.RNN supports 'tanh' or 'relu', got {nonlinearity!r}")
        module = cls(D, H, nonlinearity=nonlinearity)
        values = {"weight_ih_l0": params.W_xh, "weight_hh_l0": params.W_hh, "bias_ih_l0": params.b_h,
                  "bias_hh_l0": np.zeros_like(params.b_h)}
    elif isinstance(params, LSTMParams):
        D, H = params.W_x.shape[1], params.W_h.shape[1]
        module = cls(D, H)
        values = {"weight_ih_l0": params.W_x, "weight_hh_l0": params.W_h, "bias_ih_l0": params.b,
                  "bias_hh_l0": np.zeros_like(params.b)}
    else:
        D, H = params.W_x.shape[1], params.W_h.shape[1]
        module = cls(D, H)
        values = {"weight_ih_l0": params.W_x, "weight_hh_l0": params.W_h, "bias_ih_l0": params.b_x,
                  "bias_hh_l0": params.b_h}
    module = module.to(dtype)
    with torch.no_grad():
        for name, value in values.items():
            getattr(module, name).copy_(_t(value))
    return module


def from_nn(module: torch.nn.Module) -> Any:
    """bpttlab parameters (NumPy) computing the same function as a one-layer torch.nn RNN/LSTM/GRU."""
    if not isinstance(module, (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)):
        raise TypeError(f"module: expected torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    if module.num_layers != 1 or module.bidirectional or module.batch_first or not module.bias:
        raise ValueError(
            "module: expected one layer, unidirectional, time-first (batch_first=False), with biases; "
            f"got num_layers={module.num_layers}, bidirectional={module.bidirectional}, "
            f"batch_first={module.batch_first}, bias={module.bias}"
        )
    g = {n: p.detach().cpu().numpy().copy() for n, p in module.named_parameters()}
    if isinstance(module, torch.nn.RNN):
        return RNNParams(g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"] + g["bias_hh_l0"])
    if isinstance(module, torch.nn.LSTM):
        return LSTMParams(g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"] + g["bias_hh_l0"])
    return GRUParams(g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"])
