"""The sequence models of ``bpttlab.numpy.seq`` in torch ops; gradients by autograd.

Same functions and argument order as the NumPy backend. ``truncated_objective`` builds
the truncated BPTT objective explicitly: each window starts from a state computed
without a graph (a constant), so autograd differentiates exactly the cut graph. Its
gradient is the one ``bpttlab.numpy.seq.loss_and_grads`` computes by hand; both read
their windows from ``bpttlab.truncation.windows``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bpttlab._checks import (
    check_choice,
    check_masked_loss_args,
    check_seq_call,
    check_seq_inputs,
    check_type,
)
from bpttlab.seqmodel import LOSSES, SeqModel, SeqParams, check_model
from bpttlab.tasks import TaskBatch
from bpttlab.torch import rnn
from bpttlab.truncation import windows


def batch_to_torch(batch: TaskBatch, dtype: torch.dtype | None = None) -> TaskBatch:
    """A TaskBatch of tensors: x, mask and float targets copied (in ``dtype`` if given); integer labels as int64.

    batch: a TaskBatch of NumPy arrays or tensors with float x and mask, float targets for loss "mse"
    and integer labels for "xent" (float labels are refused: casting would truncate them silently).
    """
    check_type("batch", batch, TaskBatch, "a bpttlab.tasks.TaskBatch")
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    check_choice("batch.loss", batch.loss, LOSSES)
    for field in ("x", "y", "mask"):
        value = getattr(batch, field)
        if not isinstance(value, (np.ndarray, torch.Tensor)):
            raise TypeError(f"batch.{field}: expected a numpy.ndarray or a torch.Tensor, got {type(value).__name__}")
    kinds = {f: _kind(getattr(batch, f)) for f in ("x", "y", "mask")}
    for field in ("x", "mask") + (("y",) if batch.loss == "mse" else ()):
        if kinds[field] != "f":
            raise TypeError(f"batch.{field}: expected float values, got dtype {getattr(batch, field).dtype}")
    if batch.loss == "xent" and kinds["y"] not in "iu":
        raise TypeError(f"batch.y: expected integer class labels for loss 'xent', got dtype {batch.y.dtype}")
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


def _kind(value: Any) -> str:
    """The NumPy dtype kind of an array or tensor: "f" float, "i"/"u" integer, "b" bool, "c" complex."""
    if isinstance(value, torch.Tensor):
        if value.dtype.is_complex:
            return "c"
        if value.dtype.is_floating_point:
            return "f"
        return "b" if value.dtype == torch.bool else "i"
    return value.dtype.kind


def forward(x: torch.Tensor, state0: Any, params: SeqParams, model: SeqModel) -> tuple[torch.Tensor, Any]:
    """Outputs y_t = W_hy h_t + b_y of every step.  x (T, B, D) -> ys (T, B, O), cell cache."""
    check_model(model)
    check_seq_inputs(model, x, "x", state0, "state0", params, "torch")
    hs, cache = model.spec.torch().forward(x, state0, params.cell, **model.options())
    return rnn.readout_forward(hs, params.readout), cache


def masked_loss(
    ys: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, loss: str, normaliser: float | None = None
) -> torch.Tensor:
    """The masked loss of ``bpttlab.numpy.seq.masked_loss``, with the same checks.

    ys (T, B, O); y (T, B, O) float or (T, B) int64; mask (T, B) of weights >= 0.
    """
    normaliser = check_masked_loss_args(ys, y, mask, loss, normaliser, "torch")
    if normaliser is None:
        N = float(mask.sum())
        if not N > 0:
            raise ValueError(f"mask: expected at least one step with a loss (sum of mask > 0), got {N}")
    else:
        N = normaliser
    if loss == "mse":
        return (mask[..., None] * (ys - y) ** 2).sum() / (ys.shape[-1] * N)
    C = ys.shape[-1]
    per_step = F.cross_entropy(ys.reshape(-1, C), y.reshape(-1), reduction="none").reshape(y.shape)
    return (mask * per_step).sum() / N


def loss(batch: TaskBatch, state0: Any, params: SeqParams, model: SeqModel) -> torch.Tensor:
    """The full objective; its gradient is full BPTT."""
    check_seq_call(batch, state0, "state0", params, model, "torch")
    ys, _ = forward(batch.x, state0, params, model)
    return masked_loss(ys, batch.y, batch.mask, model.loss)


def truncated_objective(
    batch: TaskBatch, state0: Any, params: SeqParams, model: SeqModel, k1: int | None = None, k2: int | None = None
) -> torch.Tensor:
    """A scalar equal to the full loss whose autograd gradient is the TBPTT(k1, k2) gradient.

    Every k1-step chunk contributes its losses through a window of k2 steps that starts
    from a constant state (computed under torch.no_grad), so no gradient crosses a window start.
    """
    check_seq_call(batch, state0, "state0", params, model, "torch")
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
