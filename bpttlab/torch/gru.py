"""The GRU of ``bpttlab.numpy.gru`` in torch ops; BPTT by autograd. Same names, layouts and variants."""

from __future__ import annotations

import torch

from bpttlab._checks import check_choice
from bpttlab.params import GRUParams
from bpttlab.torch._gated import check_sequence_input

VARIANTS = ("torch", "cho")


def step_forward(x_t: torch.Tensor, h_prev: torch.Tensor, params: GRUParams, variant: str = "torch") -> torch.Tensor:
    """One step.  x_t (B, D), h_prev (B, H) -> h_t (B, H)."""
    H = h_prev.shape[-1]
    gx_r, gx_z, gx_n = (x_t @ params.W_x.T + params.b_x).chunk(3, dim=-1)
    W_hr, W_hz, W_hn = params.W_h.split(H, dim=0)
    b_hr, b_hz, b_hn = params.b_h.split(H)
    r = torch.sigmoid(gx_r + h_prev @ W_hr.T + b_hr)
    z = torch.sigmoid(gx_z + h_prev @ W_hz.T + b_hz)
    if variant == "torch":
        n = torch.tanh(gx_n + r * (h_prev @ W_hn.T + b_hn))
    else:
        n = torch.tanh(gx_n + (r * h_prev) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h_prev


def states(x: torch.Tensor, h0: torch.Tensor, params: GRUParams, variant: str = "torch") -> list[torch.Tensor]:
    """The state after t steps for t = 0..T (h0 first)."""
    check_choice("variant", variant, VARIANTS)
    check_sequence_input(x, h0, params, GRUParams, 3)
    out = [h0]
    for t in range(x.shape[0]):
        out.append(step_forward(x[t], out[-1], params, variant))
    return out


def forward(x: torch.Tensor, h0: torch.Tensor, params: GRUParams, variant: str = "torch") -> torch.Tensor:
    """Loop ``step_forward`` over time.  x (T, B, D), h0 (B, H) -> hs (T, B, H)."""
    return torch.stack(states(x, h0, params, variant)[1:])
