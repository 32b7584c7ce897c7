"""The LSTM of ``bpttlab.numpy.lstm`` in torch ops; BPTT by autograd.

Same functions, argument order, names and layouts as the NumPy cell (the contract of
``bpttlab.cells``): state LSTMState(h, c), its gradient LSTMStateGrads(dh, dc).
"""

from __future__ import annotations

import torch

from bpttlab import cells
from bpttlab.params import LSTMGrads, LSTMParams, LSTMState, LSTMStateGrads
from bpttlab.torch import _cell
from bpttlab.torch._cell import Cache, StepCache

SPEC = cells.CELLS["lstm"]


def _step(x_t: torch.Tensor, state_prev: LSTMState, params: LSTMParams) -> LSTMState:
    a = x_t @ params.W_x.T + state_prev.h @ params.W_h.T + params.b  # pre-activations (B, 4H)
    i, f, g, o = a.chunk(4, dim=-1)
    c = torch.sigmoid(f) * state_prev.c + torch.sigmoid(i) * torch.tanh(g)
    return LSTMState(torch.sigmoid(o) * torch.tanh(c), c)


def step_forward(x_t: torch.Tensor, state_prev: LSTMState, params: LSTMParams) -> tuple[LSTMState, StepCache]:
    """One step.  x_t (B, D), state_prev (h, c) -> LSTMState(h_t, c_t), cache."""
    return _cell.step_forward(SPEC, _step, x_t, state_prev, params, {})


def step_backward(dstate_t: LSTMStateGrads, cache: StepCache) -> tuple[torch.Tensor, LSTMStateGrads, LSTMGrads]:
    """Gradients of one step by autograd.  (dh_t, dc_t) -> dx_t, LSTMStateGrads(dh_prev, dc_prev), LSTMGrads."""
    return _cell.step_backward(SPEC, _step, dstate_t, cache)


def forward(x: torch.Tensor, state0: LSTMState, params: LSTMParams) -> tuple[torch.Tensor, Cache]:
    """Loop the step over time.  x (T, B, D), state0 (h0, c0) -> hs (T, B, H), cache."""
    return _cell.forward(SPEC, _step, x, state0, params, {})


def backward(dhs: torch.Tensor, cache: Cache) -> tuple[torch.Tensor, LSTMStateGrads, LSTMGrads]:
    """Full BPTT by autograd.  dhs (T, B, H) -> dx (T, B, D), LSTMStateGrads(dh0, dc0), LSTMGrads."""
    return _cell.backward(SPEC, _step, dhs, cache)


def states(x: torch.Tensor, state0: LSTMState, params: LSTMParams) -> list[LSTMState]:
    """The state after t steps for t = 0..T (state0 first)."""
    return _cell.states(SPEC, _step, x, state0, params, {})


def state_at(cache: Cache, t: int) -> LSTMState:
    """The state after t steps of the forward pass (t = 0 gives state0)."""
    return _cell.state_at(SPEC, cache, t)


def zero_state(params: LSTMParams, B: int) -> LSTMState:
    """All-zero (h0, c0), each (B, H), in the dtype of the parameters."""
    return _cell.zero_state(SPEC, params, B)


def state_grads(dhs: torch.Tensor, cache: Cache) -> torch.Tensor:
    """Total gradients dL/dh_t (direct plus through later steps) by autograd.  dhs (T, B, H) -> (T, B, H)."""
    return _cell.state_grads(SPEC, _step, dhs, cache)
