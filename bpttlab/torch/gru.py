"""The GRU of ``bpttlab.numpy.gru`` in torch ops; BPTT by autograd.

Same functions, argument order, names, layouts and variants as the NumPy cell (the
contract of ``bpttlab.cells``): W_x (3H, D), W_h (3H, H), b_x and b_hh (3H,), blocks [r, z, n].
"""

from __future__ import annotations

import torch

from bpttlab import cells
from bpttlab.params import GRUGrads, GRUParams
from bpttlab.torch import _cell
from bpttlab.torch._cell import Cache, StepCache

SPEC = cells.CELLS["gru"]
VARIANTS = SPEC.choices


def _step(x_t: torch.Tensor, h_prev: torch.Tensor, params: GRUParams, variant: str) -> torch.Tensor:
    H = h_prev.shape[-1]
    gx_r, gx_z, gx_n = (x_t @ params.W_x.T + params.b_x).chunk(3, dim=-1)
    W_hr, W_hz, W_hn = params.W_h.split(H, dim=0)
    b_hr, b_hz, b_hn = params.b_hh.split(H)
    r = torch.sigmoid(gx_r + h_prev @ W_hr.T + b_hr)
    z = torch.sigmoid(gx_z + h_prev @ W_hz.T + b_hz)
    if variant == "torch":
        n = torch.tanh(gx_n + r * (h_prev @ W_hn.T + b_hn))
    else:
        n = torch.tanh(gx_n + (r * h_prev) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h_prev


def step_forward(
    x_t: torch.Tensor, h_prev: torch.Tensor, params: GRUParams, variant: str = "torch"
) -> tuple[torch.Tensor, StepCache]:
    """One step.  x_t (B, D), h_prev (B, H) -> h_t (B, H), cache."""
    return _cell.step_forward(SPEC, _step, x_t, h_prev, params, {"variant": variant})


def step_backward(dh_t: torch.Tensor, cache: StepCache) -> tuple[torch.Tensor, torch.Tensor, GRUGrads]:
    """Gradients of one step by autograd.  dh_t (B, H) -> dx_t (B, D), dh_prev (B, H), GRUGrads."""
    return _cell.step_backward(SPEC, _step, dh_t, cache)


def forward(x: torch.Tensor, h0: torch.Tensor, params: GRUParams, variant: str = "torch") -> tuple[torch.Tensor, Cache]:
    """Loop the step over time.  x (T, B, D), h0 (B, H) -> hs (T, B, H), cache."""
    return _cell.forward(SPEC, _step, x, h0, params, {"variant": variant})


def backward(dhs: torch.Tensor, cache: Cache) -> tuple[torch.Tensor, torch.Tensor, GRUGrads]:
    """Full BPTT by autograd.  dhs (T, B, H) -> dx (T, B, D), dh0 (B, H), GRUGrads."""
    return _cell.backward(SPEC, _step, dhs, cache)


def states(x: torch.Tensor, h0: torch.Tensor, params: GRUParams, variant: str = "torch") -> list[torch.Tensor]:
    """The state after t steps for t = 0..T (h0 first)."""
    return _cell.states(SPEC, _step, x, h0, params, {"variant": variant})


def state_at(cache: Cache, t: int) -> torch.Tensor:
    """The hidden state after t steps of the forward pass (t = 0 gives h0). (B, H)."""
    return _cell.state_at(SPEC, cache, t)


def zero_state(params: GRUParams, B: int) -> torch.Tensor:
    """The all-zero h0 (B, H) in the dtype of the parameters."""
    return _cell.zero_state(SPEC, params, B)


def state_grads(dhs: torch.Tensor, cache: Cache) -> torch.Tensor:
    """Total gradients dL/dh_t (direct plus through later steps) by autograd.  dhs (T, B, H) -> (T, B, H)."""
    return _cell.state_grads(SPEC, _step, dhs, cache)
