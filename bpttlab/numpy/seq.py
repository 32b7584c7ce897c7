"""Sequence models: a recurrent cell, a per-step linear readout and a masked loss.

Gradients by full BPTT or by truncated BPTT, TBPTT(k1, k2) in the sense of
Williams & Peng (1990): every k1 steps, the losses of those k1 steps are
backpropagated k2 steps into the past (k1 <= k2), starting from the stored state
at the window's start, whose own history is cut. Full BPTT is k1 = k2 = T.

All NumPy, backward passes by hand; ``bpttlab.torch.seq`` is the autograd twin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_choice,
    check_finite,
    check_float_array,
    check_number,
    check_params_type,
    check_shape,
    check_type,
)
from bpttlab.numpy import rnn
from bpttlab.numpy.activations import softmax_xent
from bpttlab.params import ReadoutParams
from bpttlab.seqmodel import LOSSES, SeqGrads, SeqModel, SeqParams, SeqResult, check_model
from bpttlab.tasks import TaskBatch, accuracy
from bpttlab.tree import add, leaves
from bpttlab.truncation import check_truncation, windows

__all__ = [
    "LOSSES", "SeqGrads", "SeqModel", "SeqParams", "SeqResult", "accuracy", "check_truncation", "forward",
    "init_params", "loss_and_grads", "masked_loss", "truncation_bias", "window_loss_and_grads",
]


def _cell(model: SeqModel) -> Any:
    return model.spec.numpy()


def init_params(model: SeqModel, D: int, H: int, O: int, rng: np.random.Generator, **options: Any) -> SeqParams:
    """SeqParams for ``model``: the cell from bpttlab.init.init_cell (options passed on) and a readout (O outputs)."""
    from bpttlab.init import init_cell, init_readout

    check_model(model)
    return SeqParams(init_cell(model.cell, D, H, rng, **options), init_readout(H, O, rng))


def _check_params(model: SeqModel, params: Any) -> None:
    check_type("params", params, SeqParams)
    check_params_type("params.cell", params.cell, model.spec.params)
    check_params_type("params.readout", params.readout, ReadoutParams)


# ----------------------------------------------------------------- masked losses


def masked_loss(
    ys: np.ndarray, y: np.ndarray, mask: np.ndarray, loss: str, normaliser: float | None = None
) -> tuple[float, np.ndarray]:
    """Loss summed over the steps where mask > 0, divided by ``normaliser`` (default: sum of mask).

    "mse": sum_t,b m_tb ||ys_tb - y_tb||^2 / (O * N);  "xent": sum_t,b m_tb (-log softmax(ys_tb)[y_tb]) / N.
    ys (T, B, O); y (T, B, O) float or (T, B) int; mask (T, B). Returns (L, dL/dys).
    """
    check_choice("loss", loss, LOSSES)
    check_float_array("ys", ys, ("T", "B", "O"))
    check_float_array("mask", mask, ("T", "B"))
    check_shape("mask", mask, ys.shape[:2], ("T", "B"))
    N = float(mask.sum()) if normaliser is None else float(normaliser)
    if not N > 0:
        raise ValueError(f"mask: expected at least one step with a loss (normaliser > 0), got {N}")
    if loss == "mse":
        check_float_array("y", y, ("T", "B", "O"))
        check_shape("y", y, ys.shape, ("T", "B", "O"))
        diff = ys - y
        O = ys.shape[-1]
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(np.sum(mask[..., None] * diff**2) / (O * N))
        if not np.isfinite(value):
            raise FloatingPointError("ys: the squared error overflowed (outputs too large); training has diverged")
        return value, (2.0 / (O * N)) * mask[..., None] * diff
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y: expected integer class labels for loss 'xent', got {getattr(y, 'dtype', type(y).__name__)}")
    check_shape("y", y, ys.shape[:2], ("T", "B"))
    C = ys.shape[-1]
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"y: expected class labels in [0, {C - 1}], got range [{y.min()}, {y.max()}]")
    per_step, dys = softmax_xent(ys, y)
    return float(np.sum(mask * per_step) / N), (mask / N)[..., None] * dys


# ----------------------------------------------------------------- forward and gradients


def _check_batch(batch: TaskBatch) -> None:
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch: expected a bpttlab.tasks.TaskBatch, got {type(batch).__name__}")
    check_float_array("batch.x", batch.x, ("T", "B", "D"))
    check_finite("batch.x", batch.x, time_axis=0)


def forward(x: np.ndarray, state0: Any, params: SeqParams, model: SeqModel) -> tuple[np.ndarray, Any]:
    """Outputs y_t = W_hy h_t + b_y of every step.  x (T, B, D) -> ys (T, B, O), cell cache."""
    check_model(model)
    _check_params(model, params)
    hs, cache = _cell(model).forward(x, state0, params.cell, **model.options())
    ys, _ = rnn.readout_forward(hs, params.readout)
    return ys, cache


def window_loss_and_grads(
    batch: TaskBatch,
    state_start: Any,
    params: SeqParams,
    model: SeqModel,
    start: int,
    first_loss_step: int,
    stop: int,
    normaliser: float,
) -> tuple[float, SeqGrads, Any]:
    """Loss of steps [first_loss_step, stop) backpropagated to ``start``, from a cut ``state_start``.

    The state entering the window is treated as a constant: no gradient flows past ``start``.
    Returns (loss, grads, cache of the window's forward pass).
    """
    check_model(model)
    _check_batch(batch)
    _check_params(model, params)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, first_loss_step, stop)):
        raise TypeError(
            f"start, first_loss_step, stop: expected ints, got {type(start).__name__}, "
            f"{type(first_loss_step).__name__}, {type(stop).__name__}"
        )
    normaliser = check_number("normaliser", normaliser, positive=True)
    if not 0 <= start <= first_loss_step < stop <= batch.x.shape[0]:
        raise ValueError(
            f"start, first_loss_step, stop: expected 0 <= start <= first_loss_step < stop <= T, "
            f"got {start}, {first_loss_step}, {stop} with T = {batch.x.shape[0]}"
        )
    cell = _cell(model)
    hs, cache = cell.forward(batch.x[start:stop], state_start, params.cell, **model.options())
    ys, out_cache = rnn.readout_forward(hs, params.readout)
    mask = batch.mask[start:stop].copy()
    mask[: first_loss_step - start] = 0.0
    value, dys = masked_loss(ys, batch.y[start:stop], mask, model.loss, normaliser)
    dhs, readout_grads = rnn.readout_backward(dys, out_cache)
    _, _, cell_grads = cell.backward(dhs, cache)
    return value, SeqGrads(cell_grads, readout_grads), cache


def loss_and_grads(
    batch: TaskBatch,
    state0: Any,
    params: SeqParams,
    model: SeqModel,
    k1: int | None = None,
    k2: int | None = None,
) -> SeqResult:
    """The masked loss over the whole sequence and its gradient by TBPTT(k1, k2), parameters fixed.

    k1 = k2 = None gives full BPTT. With truncation the loss is the same number; only
    the gradient changes: each chunk's losses reach back at most k2 steps.
    """
    check_model(model)
    _check_batch(batch)
    _check_params(model, params)
    T = batch.x.shape[0]
    k1, k2 = check_truncation(T, k1, k2)
    normaliser = float(batch.mask.sum())
    if not normaliser > 0:  # checked here, as the truncated path may skip every chunk and never reach masked_loss
        raise ValueError(f"batch.mask: expected at least one step with a loss (sum of mask > 0), got {normaliser}")
    cell = _cell(model)
    if k1 >= T:
        value, grads, cache = window_loss_and_grads(batch, state0, params, model, 0, 0, T, normaliser)
        return SeqResult(value, grads, cell.state_at(cache, T))
    _, full_cache = forward(batch.x, state0, params, model)  # the states every window starts from
    total, acc = 0.0, None
    for w in windows(T, k1, k2):
        if batch.mask[w.first_loss : w.stop].sum() == 0:
            continue
        value, grads, _ = window_loss_and_grads(
            batch, cell.state_at(full_cache, w.start), params, model, w.start, w.first_loss, w.stop, normaliser
        )
        total += value
        acc = grads if acc is None else add(acc, grads)
    return SeqResult(total, acc, cell.state_at(full_cache, T))


def truncation_bias(full: SeqGrads, truncated: SeqGrads) -> tuple[float, float]:
    """How far a truncated gradient is from the full one: (relative error, cosine similarity).

    Both are computed over all parameters flattened into one vector.
    """
    f = np.concatenate([np.ravel(v) for v in leaves(full)])
    t = np.concatenate([np.ravel(v) for v in leaves(truncated)])
    if f.shape != t.shape:
        raise ValueError(f"truncated: expected {f.size} gradient entries like full, got {t.size}")
    nf, nt = np.linalg.norm(f), np.linalg.norm(t)
    if nf == 0 or nt == 0:
        raise ValueError("full, truncated: a zero gradient has no direction to compare")
    return float(np.linalg.norm(f - t) / nf), float(f @ t / (nf * nt))
