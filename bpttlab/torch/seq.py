"""The sequence models of ``bpttlab.numpy.seq`` in torch ops; gradients by autograd.

``truncated_objective`` builds the truncated BPTT objective explicitly: each
window starts from a state computed without a graph (a constant), so autograd
differentiates exactly the cut graph. Its gradient is the one
``bpttlab.numpy.seq.loss_and_grads`` computes by hand.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from bpttlab._checks import check_choice
from bpttlab.tasks import TaskBatch
from bpttlab.numpy.seq import LOSSES, SeqModel, SeqParams, check_truncation
from bpttlab.torch import gru, lstm, rnn

CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}


def batch_to_torch(batch: TaskBatch) -> TaskBatch:
    """A TaskBatch of tensors (x, y, mask copied from NumPy; integer labels as int64)."""
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch: expected a bpttlab.tasks.TaskBatch, got {type(batch).__name__}")
    return TaskBatch(torch.tensor(batch.x), torch.tensor(batch.y), torch.tensor(batch.mask), batch.loss)


def forward(model: SeqModel, params: SeqParams, x: torch.Tensor, state0: Any) -> torch.Tensor:
    """ys (T, B, O) for x (T, B, D)."""
    hs = CELLS[model.cell].forward(x, state0, params.cell, **model.options())
    return rnn.readout_forward(hs, params.readout)


def masked_loss(
    ys: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, loss: str, normaliser: float | None = None
) -> torch.Tensor:
    """The masked loss of ``bpttlab.numpy.seq.masked_loss``."""
    check_choice("loss", loss, LOSSES)
    N = float(mask.sum()) if normaliser is None else float(normaliser)
    if loss == "mse":
        return (mask[..., None] * (ys - y) ** 2).sum() / (ys.shape[-1] * N)
    per_step = F.cross_entropy(ys.reshape(-1, ys.shape[-1]), y.reshape(-1), reduction="none").reshape(y.shape)
    return (mask * per_step).sum() / N


def loss(model: SeqModel, params: SeqParams, batch: TaskBatch, state0: Any) -> torch.Tensor:
    """The full objective; its gradient is full BPTT."""
    ys = forward(model, params, batch.x, state0)
    return masked_loss(ys, batch.y, batch.mask, model.loss)


def truncated_objective(
    model: SeqModel, params: SeqParams, batch: TaskBatch, state0: Any, k1: int | None = None, k2: int | None = None
) -> torch.Tensor:
    """A scalar equal to the full loss whose autograd gradient is the TBPTT(k1, k2) gradient.

    Every k1-step chunk contributes its losses through a window of k2 steps that starts
    from a constant state (computed under torch.no_grad), so no gradient crosses a window start.
    """
    T = batch.x.shape[0]
    k1, k2 = check_truncation(T, k1, k2)
    cell = CELLS[model.cell]
    with torch.no_grad():
        constants = cell.states(batch.x, state0, params.cell, **model.options())
    N = float(batch.mask.sum())
    total = torch.zeros((), dtype=batch.x.dtype)
    for s in range(0, T, k1):
        e = min(s + k1, T)
        w = max(0, e - k2)
        start_state = state0 if w == 0 else constants[w]
        ys = forward(model, params, batch.x[w:e], start_state)
        mask = batch.mask[w:e].clone()
        mask[: s - w] = 0.0
        total = total + masked_loss(ys, batch.y[w:e], mask, model.loss, N)
    return total
