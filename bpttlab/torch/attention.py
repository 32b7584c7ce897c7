"""The causal self-attention layer of ``bpttlab.numpy.attention`` in torch ops; gradients by autograd.

Same maths, names and argument order: ``positional_encoding(T, H, dtype)``,
``forward(x, params, positional) -> (ys, cache)``, ``loss(batch, params, positional)``.
params is ``bpttlab.params.AttentionParams`` holding tensors (``bpttlab.torch.to_torch`` converts
the NumPy initialiser's), checked by the same ``bpttlab._checks.check_attention_params`` as NumPy's.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from bpttlab._checks import (
    check_attention_params,
    check_bool,
    check_finite,
    check_float_array,
    check_positive_int,
    check_type,
)
from bpttlab.tasks import TaskBatch, check_task_batch
from bpttlab.torch.seq import masked_loss

__all__ = ["AttentionCache", "forward", "loss", "positional_encoding"]


class AttentionCache(NamedTuple):
    """e, Q, K, V, U, hs (T, B, H) and the attention weights A (B, T, T), as tensors of the graph."""

    e: torch.Tensor
    Q: torch.Tensor
    K: torch.Tensor
    V: torch.Tensor
    A: torch.Tensor
    U: torch.Tensor
    hs: torch.Tensor


def positional_encoding(T: int, H: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """P (T, H): P[t - 1, 2i] = sin(t / 10000^(2i / H)), P[t - 1, 2i + 1] = cos(...), t = 1 .. T (float64, cast)."""
    T, H = check_positive_int("T", T), check_positive_int("H", H)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    t = torch.arange(1, T + 1, dtype=torch.float64)[:, None]
    cols = torch.arange(H)
    freq = 10000.0 ** (-(torch.div(cols, 2, rounding_mode="floor")).to(torch.float64) * 2.0 / H)
    angle = t * freq
    return torch.where(cols % 2 == 0, torch.sin(angle), torch.cos(angle)).to(dtype)


def forward(x: torch.Tensor, params: Any, positional: bool = True) -> tuple[torch.Tensor, AttentionCache]:
    """x (T, B, D) -> ys (T, B, O), cache; differentiable by autograd."""
    check_float_array("x", x, ("T", "B", "D"), "torch")
    check_finite("x", x, time_axis=0)
    positional = check_bool("positional", positional)
    H, _ = check_attention_params(params, x.shape[-1], x.dtype, "torch")
    T = x.shape[0]
    e = x @ params.W_xe.T + params.b_e
    if positional:
        e = e + positional_encoding(T, H, x.dtype)[:, None, :]
    Q, K, V = e @ params.W_q.T, e @ params.W_k.T, e @ params.W_v.T
    Qb, Kb, Vb = (a.transpose(0, 1) for a in (Q, K, V))
    S = (Qb @ Kb.transpose(1, 2)) / math.sqrt(H)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    A = torch.softmax(S.masked_fill(future, float("-inf")), dim=-1)
    U = (A @ Vb).transpose(0, 1)
    hs = e + U @ params.W_o.T
    ys = hs @ params.W_hy.T + params.b_y
    return ys, AttentionCache(e, Q, K, V, A, U, hs)


def loss(batch: TaskBatch, params: Any, positional: bool = True) -> torch.Tensor:
    """The masked loss of ``bpttlab.torch.seq.masked_loss`` over a task batch of tensors."""
    check_type("batch", batch, TaskBatch, "a bpttlab.tasks.TaskBatch")
    check_task_batch(batch, "batch", backend="torch")
    ys, _ = forward(batch.x, params, positional)
    return masked_loss(ys, batch.y, batch.mask, batch.loss)
