"""The sequence models of ``bpttlab.numpy.seq`` in torch ops; gradients by autograd.

Same functions and argument order as the NumPy backend. ``truncated_objective`` builds
the truncated BPTT objective explicitly: each window starts from a state computed
without a graph (a constant), so autograd differentiates exactly the cut graph. Its
gradient is the one ``bpttlab.numpy.seq.loss_and_grads`` computes by hand; both read
their windows from ``bpttlab.truncation.windows``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from bpttlab._checks import (
    check_choice,
    check_finite,
    check_float_array,
    check_number,
    check_params_type,
    check_shape,
    check_type,
)
from bpttlab.params import ReadoutParams
from bpttlab.seqmodel import LOSSES, SeqModel, SeqParams, check_model
from bpttlab.tasks import TaskBatch
from bpttlab.torch import rnn
from bpttlab.truncation import windows


def batch_to_torch(batch: TaskBatch, dtype: torch.dtype | None = None) -> TaskBatch:
    """A TaskBatch of tensors: x, mask and float targets copied (in ``dtype`` if given); integer labels as int64."""
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch: expected a bpttlab.tasks.TaskBatch, got {type(batch).__name__}")
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    x = torch.as_tensor(batch.x).clone()
    mask = torch.as_tensor(batch.mask).clone()
    y = torch.as_tensor(batch.y).clone()
    if batch.loss == "xent":
        y = y.long()
    elif dtype is not None:
        y = y.to(dtype)
    if dtype is not None:
        x, mask = x.to(dtype), mask.to(dtype)
    return TaskBatch(x, y, mask, batch.loss)


def _check_params(model: SeqModel, params: Any) -> None:
    check_type("params", params, SeqParams)
    check_params_type("params.cell", params.cell, model.spec.params)
    check_params_type("params.readout", params.readout, ReadoutParams)


def forward(x: torch.Tensor, state0: Any, params: SeqParams, model: SeqModel) -> tuple[torch.Tensor, Any]:
    """Outputs y_t = W_hy h_t + b_y of every step.  x (T, B, D) -> ys (T, B, O), cell cache."""
    check_model(model)
    _check_params(model, params)
    hs, cache = model.spec.torch().forward(x, state0, params.cell, **model.options())
    return rnn.readout_forward(hs, params.readout), cache


def masked_loss(
    ys: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, loss: str, normaliser: float | None = None
) -> torch.Tensor:
    """The masked loss of ``bpttlab.numpy.seq.masked_loss``, with the same checks.

    ys (T, B, O); y (T, B, O) float or (T, B) int64; mask (T, B) of weights >= 0.
    """
    check_choice("loss", loss, LOSSES)
    check_float_array("ys", ys, ("T", "B", "O"), "torch")
    check_float_array("mask", mask, ("T", "B"), "torch")
    check_shape("mask", mask, ys.shape[:2], ("T", "B"))
    check_finite("mask", mask, time_axis=0)
    if bool((mask < 0).any()):
        raise ValueError("mask: expected weights >= 0, got a negative entry")
    if normaliser is None:
        N = float(mask.sum())
        if not N > 0:
            raise ValueError(f"mask: expected at least one step with a loss (sum of mask > 0), got {N}")
    else:
        N = check_number("normaliser", normaliser, positive=True)
    if loss == "mse":
        check_float_array("y", y, ("T", "B", "O"), "torch")
        check_shape("y", y, ys.shape, ("T", "B", "O"))
        check_finite("y", y, time_axis=0)
        return (mask[..., None] * (ys - y) ** 2).sum() / (ys.shape[-1] * N)
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64:
        raise TypeError(f"y: expected int64 class labels for loss 'xent', got {getattr(y, 'dtype', type(y).__name__)}")
    check_shape("y", y, ys.shape[:2], ("T", "B"))
    C = ys.shape[-1]
    if int(y.min()) < 0 or int(y.max()) >= C:
        raise ValueError(f"y: expected class labels in [0, {C - 1}], got range [{int(y.min())}, {int(y.max())}]")
    per_step = F.cross_entropy(ys.reshape(-1, C), y.reshape(-1), reduction="none").reshape(y.shape)
    return (mask * per_step).sum() / N


def _check_batch(batch: Any) -> TaskBatch:
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch: expected a bpttlab.tasks.TaskBatch of tensors, got {type(batch).__name__}")
    check_float_array("batch.x", batch.x, ("T", "B", "D"), "torch")
    check_finite("batch.x", batch.x, time_axis=0)
    return batch


def loss(batch: TaskBatch, state0: Any, params: SeqParams, model: SeqModel) -> torch.Tensor:
    """The full objective; its gradient is full BPTT."""
    _check_batch(batch)
    ys, _ = forward(batch.x, state0, params, model)
    return masked_loss(ys, batch.y, batch.mask, model.loss)


def truncated_objective(
    batch: TaskBatch, state0: Any, params: SeqParams, model: SeqModel, k1: int | None = None, k2: int | None = None
) -> torch.Tensor:
    """A scalar equal to the full loss whose autograd gradient is the TBPTT(k1, k2) gradient.

    Every k1-step chunk contributes its losses through a window of k2 steps that starts
    from a constant state (computed under torch.no_grad), so no gradient crosses a window start.
    """
    check_model(model)
    _check_batch(batch)
    _check_params(model, params)
    T = batch.x.shape[0]
    schedule = windows(T, k1, k2)
    cell = model.spec.torch()
    with torch.no_grad():
        constants = cell.states(batch.x, state0, params.cell, **model.options())
    N = float(batch.mask.sum())
    if not N > 0:
        raise ValueError(f"batch.mask: expected at least one step with a loss (sum of mask > 0), got {N}")
    total = torch.zeros((), dtype=batch.x.dtype)
    for w in schedule:
        start_state = state0 if w.start == 0 else constants[w.start]
        ys, _ = forward(batch.x[w.start : w.stop], start_state, params, model)
        mask = batch.mask[w.start : w.stop].clone()
        mask[: w.first_loss - w.start] = 0.0
        if float(mask.sum()) == 0:
            continue
        total = total + masked_loss(ys, batch.y[w.start : w.stop], mask, model.loss, N)
    return total
