"""A small training loop for NumPy sequence models, shared by the lessons.

Each training step draws a batch, computes the gradient by full or truncated BPTT
(updating after every chunk of k1 steps, carrying the state forward with its
history cut), optionally clips it, and applies SGD or Adam. The loop stops with
a clear message when the loss or the gradient becomes non-finite.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpttlab._checks import (
    check_axis,
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_number,
    check_optional,
    check_positive_int,
    check_same_dtype,
    check_seq_batch,
    check_seq_params,
)
from bpttlab.clip import clip_by_global_norm, clip_by_value, global_norm
from bpttlab.numpy import seq
from bpttlab.optim import adam_init, adam_step, sgd_step
from bpttlab.seqmodel import TrainLog
from bpttlab.tasks import ADDING_TOLERANCE, TaskBatch
from bpttlab.tree import copy as copy_tree
from bpttlab.truncation import windows

__all__ = ["TrainLog", "evaluate", "train"]


def train(
    model: seq.SeqModel,
    params: seq.SeqParams,
    make_batch: Callable[[np.random.Generator], TaskBatch],
    steps: int,
    rng: np.random.Generator,
    *,
    lr: float = 1e-2,
    optimizer: str = "adam",
    max_norm: float | None = None,
    clip_value: float | None = None,
    k1: int | None = None,
    k2: int | None = None,
    progress: bool = False,
) -> tuple[seq.SeqParams, TrainLog]:
    """Train for ``steps`` batches drawn by ``make_batch(rng)``; returns (trained params, log).

    k1/k2: TBPTT(k1, k2) with an update after every chunk (None: full BPTT, one update per batch).
    max_norm / clip_value: clip the gradient by global norm / by value before each update.
    progress: show a tqdm bar (for interactive use; keep it off in stored lesson outputs).
    """
    seq.check_model(model)
    check_seq_params(model, params, None, None)
    w_x = getattr(params.cell, next(iter(model.spec.fields)))  # (G H, D): the input size and dtype batches must have
    check_callable("make_batch", make_batch, "a function rng -> TaskBatch")
    steps = check_positive_int("steps", steps)
    check_generator("rng", rng)
    check_number("lr", lr, positive=True)
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    check_optional(check_number, "max_norm", max_norm, positive=True)
    check_optional(check_number, "clip_value", clip_value, positive=True)
    check_optional(check_positive_int, "k1", k1)
    check_optional(check_positive_int, "k2", k2)
    check_bool("progress", progress)
    if max_norm is not None and clip_value is not None:
        raise ValueError("max_norm, clip_value: expected at most one clipping rule, got both")
    state = adam_init(params) if optimizer == "adam" else None
    cell = model.spec.numpy()
    losses, update_losses, norms, clipped = [], [], [], []
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="training", leave=False)
    for i in iterator:
        batch = make_batch(rng)
        if not isinstance(batch, TaskBatch):
            raise TypeError(f"make_batch: expected it to return a TaskBatch, got {type(batch).__name__}")
        try:
            check_seq_batch(batch, model, params.readout.W_hy.shape[0], "make_batch(rng)")
            check_axis("make_batch(rng).x", batch.x, 2, w_x.shape[1], ("T", "B", "D"), "params.cell")
            check_same_dtype("make_batch(rng).x", batch.x, "params", w_x.dtype)
        except (TypeError, ValueError, FloatingPointError) as err:
            raise type(err)(f"{err} (the batch of training step {i})") from None
        T, B, _ = batch.x.shape
        schedule = windows(T, k1, k2)
        normaliser = float(batch.mask.sum())
        if not normaliser > 0:
            raise ValueError(f"make_batch: batch of training step {i} has no step with a loss (mask all zero)")
        history = {0: cell.zero_state(params.cell, B)}
        step_loss = 0.0
        for c, (w, s, e) in enumerate(schedule):
            try:
                value, grads, cache = seq.window_loss_and_grads(batch, history[w], params, model, w, s, e, normaliser)
            except FloatingPointError as err:  # a state, output or gradient overflowed inside the window
                raise FloatingPointError(
                    f"training diverged at training step {i} (chunk starting at time step {s}): {err}; "
                    "lower the learning rate or clip the gradient"
                ) from err
            # keep (copies of) only the states a later window can start from, so memory stays O(k2)
            w_next = schedule[c + 1].start if c + 1 < len(schedule) else T
            history = {t: v for t, v in history.items() if t >= w_next}
            for t in range(max(s + 1, w_next), e + 1):
                history[t] = copy_tree(cell.state_at(cache, t - w))
            if not np.isfinite(value):
                raise FloatingPointError(
                    f"loss became non-finite at training step {i} (chunk starting at time step {s}); "
                    "lower the learning rate or clip the gradient"
                )
            if batch.mask[s:e].sum() == 0:
                continue
            step_loss += value
            try:
                norm = global_norm(grads)
            except FloatingPointError:  # a gradient entry is NaN or inf
                norm = float("nan")
            if not np.isfinite(norm):
                raise FloatingPointError(
                    f"gradient became non-finite at training step {i} (chunk starting at time step {s})"
                )
            was_clipped = False
            if max_norm is not None:
                grads, _ = clip_by_global_norm(grads, max_norm, step=i)
                was_clipped = norm > max_norm
            elif clip_value is not None:
                grads = clip_by_value(grads, clip_value, step=i)
                was_clipped = global_norm(grads) < norm
            clipped.append(was_clipped)
            if optimizer == "adam":
                params, state = adam_step(params, grads, state, lr=lr)
            else:
                params = sgd_step(params, grads, lr=lr)
            update_losses.append(value)
            norms.append(norm)
        losses.append(step_loss)
    return params, TrainLog(np.array(losses), np.array(update_losses), np.array(norms), np.array(clipped, dtype=bool))


def evaluate(
    model: seq.SeqModel, params: seq.SeqParams, batch: TaskBatch, tolerance: float = ADDING_TOLERANCE
) -> tuple[float, float]:
    """(loss, accuracy) of ``params`` on ``batch`` from a zero initial state."""
    seq.check_model(model)
    check_seq_params(model, params, None, None)
    check_seq_batch(batch, model, params.readout.W_hy.shape[0])
    check_number("tolerance", tolerance, positive=True)
    T, B, _ = batch.x.shape
    state0 = model.spec.numpy().zero_state(params.cell, B)
    ys, _ = seq.forward(batch.x, state0, params, model)
    value, _ = seq.masked_loss(ys, batch.y, batch.mask, model.loss)
    return value, seq.accuracy(ys, batch, tolerance)
