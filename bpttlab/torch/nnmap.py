"""Map bpttlab parameters to and from torch.nn.RNN / LSTM / GRU (one layer, time-first).

Gate order and biases, as torch.nn stores them (``_l0`` suffix: layer 0):

- RNN:  weight_ih (H, D) = W_xh, weight_hh (H, H) = W_hh, bias_ih + bias_hh = b_h.
- LSTM: blocks [i, f, g, o]; weight_ih (4H, D) = W_x, weight_hh (4H, H) = W_h, bias_ih + bias_hh = b.
- GRU:  blocks [r, z, n]; weight_ih (3H, D) = W_x, weight_hh (3H, H) = W_h, bias_ih = b_x, bias_hh = b_hh.
  torch.nn.GRU computes the "torch" variant (reset gate applied after W_hn h + b_hn).

RNN and LSTM use one bias vector in bpttlab, two in torch: to_nn puts it in bias_ih and
zeros in bias_hh; from_nn adds the two (the model computes the same function).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bpttlab import cells
from bpttlab._checks import check_cell_params, check_type
from bpttlab.params import GRUParams, LSTMParams, RNNParams


def _nn_values(spec: cells.CellSpec, params: Any) -> dict[str, np.ndarray]:
    """torch.nn's layer-0 tensors for bpttlab parameters: a single bias goes to bias_ih, zeros to bias_hh."""
    w_x, w_h, *biases = spec.fields
    values = {"weight_ih_l0": getattr(params, w_x), "weight_hh_l0": getattr(params, w_h)}
    if len(biases) == 2:
        values["bias_ih_l0"], values["bias_hh_l0"] = (getattr(params, b) for b in biases)
    else:
        b = getattr(params, biases[0])
        values["bias_ih_l0"], values["bias_hh_l0"] = b, np.zeros_like(b)
    return values


def to_nn(params: Any, nonlinearity: str = "tanh") -> torch.nn.Module:
    """A one-layer torch.nn module (float32 or float64, as the params are) computing the same function.

    params: RNNParams, LSTMParams or GRUParams of NumPy arrays (checked: shapes, one float dtype, finite);
    nonlinearity: the RNN's activation, "tanh" or "relu" (torch.nn.RNN has no linear cell); the LSTM
    and GRU have none to choose, so for them it must stay "tanh".
    """
    spec = cells.of_params(params)
    check_cell_params(spec, params)  # shapes, dtypes and finiteness: no broadcasting, no silent cast
    check_type("nonlinearity", nonlinearity, str, "a str")
    if spec.name == "rnn" and nonlinearity not in spec.nn_options:
        raise ValueError(
            f"nonlinearity: expected one of {list(spec.nn_options)} (torch.nn.RNN has no linear cell), got {nonlinearity!r}"
        )
    if spec.name != "rnn" and nonlinearity != "tanh":
        raise ValueError(
            f"nonlinearity: only an RNN has one to choose ({spec.name} params given), got {nonlinearity!r}"
        )
    D = getattr(params, next(iter(spec.fields))).shape[1]
    H = getattr(params, list(spec.fields)[1]).shape[1]
    options = {}
    if spec.name == "rnn":
        options = {"activation": nonlinearity}
    nn_spec = spec.nn(**options)
    assert nn_spec is not None  # the RNN's nonlinearity is checked above; the LSTM's and GRU's defaults have one
    cls, kwargs = nn_spec
    dtype = torch.float64 if getattr(params, next(iter(spec.fields))).dtype == np.float64 else torch.float32
    module = cls(D, H, **kwargs).to(dtype)
    with torch.no_grad():
        for name, value in _nn_values(spec, params).items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def from_nn(module: torch.nn.Module) -> Any:
    """bpttlab parameters (NumPy) computing the same function as a one-layer torch.nn RNN/LSTM/GRU."""
    if not isinstance(module, (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)):
        raise TypeError(f"module: expected torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    if module.num_layers != 1 or module.bidirectional or module.batch_first or not module.bias or module.proj_size:
        raise ValueError(
            "module: expected one layer, unidirectional, time-first (batch_first=False), with biases and no "
            f"projection; got num_layers={module.num_layers}, bidirectional={module.bidirectional}, "
            f"batch_first={module.batch_first}, bias={module.bias}, proj_size={module.proj_size}"
        )
    g = {n: p.detach().cpu().numpy().copy() for n, p in module.named_parameters()}
    if isinstance(module, torch.nn.RNN):
        return RNNParams(g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"] + g["bias_hh_l0"])
    if isinstance(module, torch.nn.LSTM):
        return LSTMParams(g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"] + g["bias_hh_l0"])
    return GRUParams(g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"])
