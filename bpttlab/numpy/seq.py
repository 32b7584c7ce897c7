"""Sequence models: a recurrent cell, a per-step linear readout and a masked loss.

Gradients by full BPTT or by truncated BPTT, TBPTT(k1, k2) in the sense of
Williams & Peng (1990): every k1 steps, the losses of those k1 steps are
backpropagated k2 steps into the past (k1 <= k2), starting from the stored state
at the window's start, whose own history is cut. Full BPTT is k1 = k2 = T.

All NumPy, backward passes by hand; ``bpttlab.torch.seq`` is the autograd twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from bpttlab._checks import check_choice, check_finite, check_float_array, check_positive_int, check_shape
from bpttlab.params import ReadoutGrads, ReadoutParams
from bpttlab.tasks import ADDING_TOLERANCE, TaskBatch
from bpttlab.numpy import gru, lstm, rnn

CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}
CELL_OPTIONS = {"rnn": ("activation",), "lstm": (), "gru": ("variant",)}
LOSSES = ("mse", "xent")


@dataclass(frozen=True, kw_only=True)
class SeqModel:
    """What a sequence model is made of: the cell's kind and options, and its loss.

    cell: "rnn" | "lstm" | "gru"; activation: the RNN's ("tanh" | "relu" | "linear");
    variant: the GRU's ("torch" | "cho"); loss: "mse" | "xent".
    """

    cell: str = "rnn"
    activation: str = "tanh"
    variant: str = "torch"
    loss: str = "mse"

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, tuple(CELLS))
        check_choice("activation", self.activation, rnn.ACTIVATIONS)
        check_choice("variant", self.variant, gru.VARIANTS)
        check_choice("loss", self.loss, LOSSES)

    def options(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CELL_OPTIONS[self.cell]}


class SeqParams(NamedTuple):
    cell: Any
    readout: ReadoutParams


def init_params(model: SeqModel, D: int, H: int, O: int, rng: np.random.Generator, **options: Any) -> SeqParams:
    """SeqParams for ``model``: the cell from bpttlab.init.init_cell (options passed on) and a readout (O outputs)."""
    from bpttlab.init import init_cell, init_readout

    if not isinstance(model, SeqModel):
        raise TypeError(f"model: expected SeqModel, got {type(model).__name__}")
    return SeqParams(init_cell(model.cell, D, H, rng, **options), init_readout(H, O, rng))


class SeqGrads(NamedTuple):
    cell: Any
    readout: ReadoutGrads


class SeqResult(NamedTuple):
    """loss: the objective; grads: its (possibly truncated) gradient; final_state: the state after step T."""

    loss: float
    grads: SeqGrads
    final_state: Any


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
    shifted = ys - ys.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    per_step = -np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    dys = np.exp(log_p)
    np.put_along_axis(dys, y[..., None], np.take_along_axis(dys, y[..., None], axis=-1) - 1.0, axis=-1)
    return float(np.sum(mask * per_step) / N), (mask / N)[..., None] * dys


def accuracy(ys: np.ndarray, batch: TaskBatch, tolerance: float = ADDING_TOLERANCE) -> float:
    """Fraction of the masked steps answered correctly: argmax = label ("xent") or |error| < tolerance ("mse")."""
    m = batch.mask > 0
    if batch.loss == "xent":
        correct = ys.argmax(axis=-1) == batch.y
    else:
        correct = np.all(np.abs(ys - batch.y) < tolerance, axis=-1)
    return float(correct[m].mean())


# ----------------------------------------------------------------- forward and gradients


def _check_batch(batch: TaskBatch) -> None:
    if not isinstance(batch, TaskBatch):
        raise TypeError(f"batch: expected a bpttlab.tasks.TaskBatch, got {type(batch).__name__}")
    check_float_array("batch.x", batch.x, ("T", "B", "D"))
    check_finite("batch.x", batch.x, time_axis=0)


def forward(model: SeqModel, params: SeqParams, x: np.ndarray, state0: Any) -> tuple[np.ndarray, Any]:
    """Outputs y_t = W_hy h_t + b_y of every step.  x (T, B, D) -> ys (T, B, O), cell cache."""
    cell = CELLS[model.cell]
    hs, cache = cell.forward(x, state0, params.cell, **model.options())
    ys, _ = rnn.readout_forward(hs, params.readout)
    return ys, cache


def window_loss_and_grads(
    model: SeqModel,
    params: SeqParams,
    batch: TaskBatch,
    state_start: Any,
    start: int,
    first_loss_step: int,
    stop: int,
    normaliser: float,
) -> tuple[float, SeqGrads, Any]:
    """Loss of steps [first_loss_step, stop) backpropagated to ``start``, from a cut ``state_start``.

    The state entering the window is treated as a constant: no gradient flows past ``start``.
    Returns (loss, grads, cache of the window's forward pass).
    """
    if not 0 <= start <= first_loss_step < stop <= batch.x.shape[0]:
        raise ValueError(
            f"start, first_loss_step, stop: expected 0 <= start <= first_loss_step < stop <= T, "
            f"got {start}, {first_loss_step}, {stop} with T = {batch.x.shape[0]}"
        )
    cell = CELLS[model.cell]
    hs, cache = cell.forward(batch.x[start:stop], state_start, params.cell, **model.options())
    ys, out_cache = rnn.readout_forward(hs, params.readout)
    mask = batch.mask[start:stop].copy()
    mask[: first_loss_step - start] = 0.0
    value, dys = masked_loss(ys, batch.y[start:stop], mask, model.loss, normaliser)
    dhs, readout_grads = rnn.readout_backward(dys, out_cache)
    _, _, cell_grads = cell.backward(dhs, cache)
    return value, SeqGrads(cell_grads, readout_grads), cache


def check_truncation(T: int, k1: int | None, k2: int | None) -> tuple[int, int]:
    """Resolve (k1, k2): None means T (full BPTT); requires 1 <= k1 <= k2."""
    k1 = T if k1 is None else check_positive_int("k1", k1)
    k2 = k1 if k2 is None else check_positive_int("k2", k2)
    if k2 < k1:
        raise ValueError(
            f"k2: expected k2 >= k1 = {k1} (each chunk's losses must lie inside its backward window), got {k2}"
        )
    return k1, k2


def loss_and_grads(
    model: SeqModel,
    params: SeqParams,
    batch: TaskBatch,
    state0: Any,
    k1: int | None = None,
    k2: int | None = None,
) -> SeqResult:
    """The masked loss over the whole sequence and its gradient by TBPTT(k1, k2), parameters fixed.

    k1 = k2 = None gives full BPTT. With truncation the loss is the same number; only
    the gradient changes: each chunk's losses reach back at most k2 steps.
    """
    if not isinstance(model, SeqModel):
        raise TypeError(f"model: expected SeqModel, got {type(model).__name__}")
    _check_batch(batch)
    T = batch.x.shape[0]
    k1, k2 = check_truncation(T, k1, k2)
    normaliser = float(batch.mask.sum())
    if not normaliser > 0:  # checked here, as the truncated path may skip every chunk and never reach masked_loss
        raise ValueError(f"batch.mask: expected at least one step with a loss (sum of mask > 0), got {normaliser}")
    cell = CELLS[model.cell]
    if k1 >= T:
        value, grads, cache = window_loss_and_grads(model, params, batch, state0, 0, 0, T, normaliser)
        return SeqResult(value, grads, cell.state_at(cache, T))
    _, full_cache = forward(model, params, batch.x, state0)  # the states every window starts from
    total, acc = 0.0, None
    for s in range(0, T, k1):
        e = min(s + k1, T)
        w = max(0, e - k2)
        if batch.mask[s:e].sum() == 0:
            continue
        value, grads, _ = window_loss_and_grads(
            model, params, batch, cell.state_at(full_cache, w), w, s, e, normaliser
        )
        total += value
        acc = grads if acc is None else _add(acc, grads)
    return SeqResult(total, acc, cell.state_at(full_cache, T))


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return type(a)(*(_add(x, y) for x, y in zip(a, b)))
    return a + b


def truncation_bias(full: SeqGrads, truncated: SeqGrads) -> tuple[float, float]:
    """How far a truncated gradient is from the full one: (relative error, cosine similarity).

    Both are computed over all parameters flattened into one vector.
    """
    from bpttlab.optim import leaves

    f = np.concatenate([np.ravel(v) for v in leaves(full)])
    t = np.concatenate([np.ravel(v) for v in leaves(truncated)])
    if f.shape != t.shape:
        raise ValueError(f"truncated: expected {f.size} gradient entries like full, got {t.size}")
    nf, nt = np.linalg.norm(f), np.linalg.norm(t)
    if nf == 0 or nt == 0:
        raise ValueError("full, truncated: a zero gradient has no direction to compare")
    return float(np.linalg.norm(f - t) / nf), float(f @ t / (nf * nt))
