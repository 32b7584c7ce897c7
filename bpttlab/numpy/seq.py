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

from bpttlab._checks import (
    check_array_tree,
    check_int,
    check_masked_loss_args,
    check_number,
    check_same_tree,
    check_seq_call,
    check_seq_inputs,
)
from bpttlab.numpy import rnn
from bpttlab.numpy.activations import softmax_xent
from bpttlab.seqmodel import LOSSES, SeqGrads, SeqModel, SeqParams, SeqResult, check_model
from bpttlab.tasks import TaskBatch, accuracy
from bpttlab.tree import add, leaves
from bpttlab.truncation import check_truncation, windows

__all__ = [
    "LOSSES",
    "SeqGrads",
    "SeqModel",
    "SeqParams",
    "SeqResult",
    "accuracy",
    "check_truncation",
    "forward",
    "init_params",
    "loss_and_grads",
    "masked_loss",
    "truncation_bias",
    "window_loss_and_grads",
]


def _cell(model: SeqModel) -> Any:
    return model.spec.numpy()


def init_params(model: SeqModel, D: int, H: int, O: int, rng: np.random.Generator, **options: Any) -> SeqParams:
    """SeqParams for ``model``: the cell from bpttlab.init.init_cell (options passed on) and a readout (O outputs)."""
    from bpttlab.init import init_cell, init_readout

    check_model(model)
    return SeqParams(init_cell(model.cell, D, H, rng, **options), init_readout(H, O, rng))


# ----------------------------------------------------------------- masked losses


def masked_loss(
    ys: np.ndarray, y: np.ndarray, mask: np.ndarray, loss: str, normaliser: float | None = None
) -> tuple[float, np.ndarray]:
    """Loss summed over the steps where mask > 0, divided by ``normaliser`` (default: sum of mask).

    "mse": sum_t,b m_tb ||ys_tb - y_tb||^2 / (O * N);  "xent": sum_t,b m_tb (-log softmax(ys_tb)[y_tb]) / N.
    ys (T, B, O); y (T, B, O) float in ys's dtype or (T, B) int; mask (T, B) of finite weights >= 0 in
    ys's dtype; normaliser a positive number. Returns (L, dL/dys).
    """
    check_masked_loss_args(ys, y, mask, loss, normaliser)
    N = float(mask.sum()) if normaliser is None else float(normaliser)
    if not N > 0:
        raise ValueError(f"mask: expected at least one step with a loss (normaliser > 0), got {N}")
    if loss == "mse":
        diff = ys - y
        O = ys.shape[-1]
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(np.sum(mask[..., None] * diff**2) / (O * N))
        if not np.isfinite(value):
            raise FloatingPointError("ys: the squared error overflowed (outputs too large); training has diverged")
        return value, (2.0 / (O * N)) * mask[..., None] * diff
    per_step, dys = softmax_xent(ys, y)
    return float(np.sum(mask * per_step) / N), (mask / N)[..., None] * dys


# ----------------------------------------------------------------- forward and gradients


def forward(x: np.ndarray, state0: Any, params: SeqParams, model: SeqModel) -> tuple[np.ndarray, Any]:
    """Outputs y_t = W_hy h_t + b_y of every step.  x (T, B, D) -> ys (T, B, O), cell cache."""
    check_model(model)
    check_seq_inputs(model, x, "x", state0, "state0", params)
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
    state_start: the state after ``start`` steps, (B, H) (an LSTMState for the LSTM); normaliser: a
    positive number (the sum of the whole batch's mask, for the loss of the whole sequence).
    Returns (loss, grads, cache of the window's forward pass).
    """
    check_seq_call(batch, state_start, "state_start", params, model)
    start, first_loss_step, stop = (
        check_int(name, v) for name, v in (("start", start), ("first_loss_step", first_loss_step), ("stop", stop))
    )
    normaliser = check_number("normaliser", normaliser, positive=True)
    if not 0 <= start <= first_loss_step < stop <= batch.x.shape[0]:
        raise ValueError(
            f"start, first_loss_step, stop: expected 0 <= start <= first_loss_step < stop <= T, "
            f"got {start}, {first_loss_step}, {stop} with T = {batch.x.shape[0]}"
        )
    return _window(batch, state_start, params, model, start, first_loss_step, stop, normaliser)


def _window(
    batch: TaskBatch,
    state_start: Any,
    params: SeqParams,
    model: SeqModel,
    start: int,
    first_loss_step: int,
    stop: int,
    normaliser: float,
) -> tuple[float, SeqGrads, Any]:
    """window_loss_and_grads without the argument checks (its caller has made them)."""
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
    check_seq_call(batch, state0, "state0", params, model)
    T = batch.x.shape[0]
    k1, k2 = check_truncation(T, k1, k2)
    normaliser = float(batch.mask.sum())
    if not normaliser > 0:  # checked here, as the truncated path may skip every chunk and never reach masked_loss
        raise ValueError(f"batch.mask: expected at least one step with a loss (sum of mask > 0), got {normaliser}")
    cell = _cell(model)
    if k1 >= T:
        value, grads, cache = _window(batch, state0, params, model, 0, 0, T, normaliser)
        return SeqResult(value, grads, cell.state_at(cache, T))
    _, full_cache = forward(batch.x, state0, params, model)  # the states every window starts from
    total, acc = 0.0, None
    for w in windows(T, k1, k2):
        if batch.mask[w.first_loss : w.stop].sum() == 0:
            continue
        value, grads, _ = _window(
            batch, cell.state_at(full_cache, w.start), params, model, w.start, w.first_loss, w.stop, normaliser
        )
        total += value
        acc = grads if acc is None else add(acc, grads)
    assert acc is not None  # the windows' loss steps cover 0..T-1 and the mask (>= 0) sums to > 0
    return SeqResult(total, acc, cell.state_at(full_cache, T))


def truncation_bias(full: SeqGrads, truncated: SeqGrads) -> tuple[float, float]:
    """How far a truncated gradient is from the full one: (relative error, cosine similarity).

    Both are computed over all parameters flattened into one vector.
    """
    check_array_tree("full", full)
    try:
        check_same_tree("truncated", truncated, full, "full")
    except (TypeError, ValueError) as err:
        raise type(err)(f"truncated: expected gradients shaped like full; {err}") from None
    check_array_tree("truncated", truncated)
    f = np.concatenate([np.ravel(v) for v in leaves(full)])
    t = np.concatenate([np.ravel(v) for v in leaves(truncated)])
    nf, nt = np.linalg.norm(f), np.linalg.norm(t)
    if nf == 0 or nt == 0:
        raise ValueError("full, truncated: a zero gradient has no direction to compare")
    return float(np.linalg.norm(f - t) / nf), float(f @ t / (nf * nt))
