"""The LSTM of ``bpttlab.numpy.lstm`` in torch ops; BPTT by autograd. Same names and layouts."""

from __future__ import annotations

import torch

from bpttlab.params import LSTMParams, LSTMState
from bpttlab.torch._checks import check_dtype, check_shape, check_tensor
from bpttlab.torch._gated import check_sequence_input


def step_forward(x_t: torch.Tensor, state_prev: LSTMState, params: LSTMParams) -> LSTMState:
    """One step.  x_t (B, D), state_prev (h, c) -> LSTMState(h_t, c_t)."""
    a = x_t @ params.W_x.T + state_prev.h @ params.W_h.T + params.b   # pre-activations (B, 4H)
    i, f, g, o = a.chunk(4, dim=-1)
    c = torch.sigmoid(f) * state_prev.c + torch.sigmoid(i) * torch.tanh(g)
    return LSTMState(torch.sigmoid(o) * torch.tanh(c), c)


def states(x: torch.Tensor, state0: LSTMState, params: LSTMParams) -> list[LSTMState]:
    """The state after t steps for t = 0..T (state0 first)."""
    if not isinstance(state0, LSTMState):
        raise TypeError(f"state0: expected LSTMState(h, c), got {type(state0).__name__}")
    check_sequence_input(x, state0.h, params, LSTMParams, 4, h0_name="state0.h")
    check_tensor("state0.c", state0.c, ("B", "H"))
    check_shape("state0.c", state0.c, state0.h.shape)
    check_dtype("state0.c", state0.c, "x", x.dtype)
    out = [state0]
    for t in range(x.shape[0]):
        out.append(step_forward(x[t], out[-1], params))
    return out


def forward(x: torch.Tensor, state0: LSTMState, params: LSTMParams) -> torch.Tensor:
    """Loop ``step_forward`` over time.  x (T, B, D) -> hs (T, B, H)."""
    return torch.stack([s.h for s in states(x, state0, params)[1:]])
