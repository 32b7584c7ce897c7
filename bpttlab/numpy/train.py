"""A small training loop for NumPy sequence models, shared by the lessons.

Each training step draws a batch, computes the gradient by full or truncated BPTT
(updating after every chunk of k1 steps, carrying the state forward with its
history cut), optionally clips it, and applies SGD or Adam. Its arguments, defaults
and log are those of ``bpttlab.torch.train.train`` (the contract is written once, in
``bpttlab.training``): learning-rate schedules, state carried between batches,
checkpoints written atomically without pickle and resumed bit-identically, and a
clear stop (:class:`~bpttlab.training.TrainingDiverged`) when the loss or the gradient becomes
non-finite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bpttlab import training
from bpttlab._checks import (
    check_axis,
    check_number,
    check_same_dtype,
    check_seq_batch,
    check_seq_params,
)
from bpttlab.clip import clip_by_global_norm, clip_by_value, global_norm
from bpttlab.numpy import seq
from bpttlab.optim import adam_init, adam_step, sgd_step
from bpttlab.saving import TrainState, load_train_state, read_meta, save_train_state
from bpttlab.seqmodel import TrainLog
from bpttlab.tasks import ADDING_TOLERANCE, TaskBatch
from bpttlab.training import DEFAULTS, TrainingDiverged
from bpttlab.tree import copy as copy_tree
from bpttlab.tree import paths
from bpttlab.truncation import windows

__all__ = ["TrainLog", "TrainingDiverged", "evaluate", "train"]

LOOP = "bpttlab.numpy.train"


def _model_meta(model: seq.SeqModel, params: seq.SeqParams) -> dict[str, Any]:
    sizes = {name: list(leaf.shape) for name, leaf in paths(params)}
    return {"cell": model.cell, **model.options(), "loss": model.loss, "sizes": sizes}


def _resume(
    where: Any,
    model: seq.SeqModel,
    params: seq.SeqParams,
    opt_state: Any,
    rng: np.random.Generator,
    meta: dict,
    steps: int,
) -> tuple[seq.SeqParams, Any, int, Any, dict]:
    """Read a checkpoint of this loop: (params, opt_state, step, carry, log); ``rng`` is set to its state."""
    carry_like = None
    batch = read_meta(where).get("carry_batch")
    if batch is not None:
        carry_like = model.spec.numpy().zero_state(params.cell, int(batch))
    like = TrainState(params, opt_state, 0, {}, carry_like, {})
    state = load_train_state(where, like, expect_meta=meta)
    log = training.check_saved_log(str(where), state.log, state.step, steps)
    training.restore_rng(rng, state.rng_state, str(where))
    return state.params, state.opt_state, state.step, state.carry, log


def train(
    model: seq.SeqModel,
    params: seq.SeqParams,
    make_batch: Callable[[np.random.Generator], TaskBatch],
    steps: int,
    rng: np.random.Generator,
    *,
    lr: float | Callable[[int], float] = DEFAULTS["lr"],
    optimizer: str = DEFAULTS["optimizer"],
    max_norm: float | None = DEFAULTS["max_norm"],
    clip_value: float | None = DEFAULTS["clip_value"],
    k1: int | None = DEFAULTS["k1"],
    k2: int | None = DEFAULTS["k2"],
    carry_state: bool = DEFAULTS["carry_state"],
    checkpoint: Any = DEFAULTS["checkpoint"],
    checkpoint_every: int = DEFAULTS["checkpoint_every"],
    resume: bool = DEFAULTS["resume"],
    progress: bool | None = DEFAULTS["progress"],
) -> tuple[seq.SeqParams, TrainLog]:
    """Train for ``steps`` batches drawn by ``make_batch(rng)``; returns (trained params, log).

    - lr: a learning rate, or a schedule lr(step) (``bpttlab.optim.piecewise_lr``).
    - k1, k2: TBPTT(k1, k2), an update after every chunk of k1 steps, each backpropagated
      k2 steps (k2 None: k2 = k1); None: full BPTT, one update per batch.
    - carry_state: each batch starts from the previous batch's final state (same batch size).
    - max_norm / clip_value: clip the gradient by global norm / by value before each update.
    - checkpoint, checkpoint_every, resume: write the training state to the ``.npz`` file
      ``checkpoint`` every ``checkpoint_every`` steps and after the last; with resume=True
      continue from it when it exists (``params`` is then the template of the saved ones and
      ``rng`` is set to the saved state). ``steps`` counts from the start of the run.
    - progress: a tqdm bar; None shows one only when BPTTLAB_PROGRESS=1.

    The log covers the whole run, resumed steps included. A non-finite loss or gradient
    raises :class:`~bpttlab.training.TrainingDiverged` naming the step, the tensor and the last finite values.
    """
    seq.check_model(model)
    check_seq_params(model, params, None, None)
    w_x = getattr(params.cell, next(iter(model.spec.fields)))  # (G H, D): the input size and dtype batches must have
    options = training.check_options(
        make_batch, steps, rng, lr=lr, optimizer=optimizer, max_norm=max_norm, clip_value=clip_value,
        k1=k1, k2=k2, carry_state=carry_state, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        resume=resume, progress=progress,
    )  # fmt: skip
    meta = options.meta(LOOP, _model_meta(model, params))
    opt_state = adam_init(params) if options.optimizer == "adam" else None
    cell = model.spec.numpy()
    carry, first, log = None, 0, training.Log()
    where = options.resume_from()
    if where is not None:
        params, opt_state, first, carry, saved = _resume(where, model, params, opt_state, rng, meta, options.steps)
        log = training.Log(saved)
    for i in training.steps_iter(first, options):
        batch = training.check_batch(make_batch(rng), i)
        try:
            check_seq_batch(batch, model, params.readout.W_hy.shape[0], "make_batch(rng)")
            check_axis("make_batch(rng).x", batch.x, 2, w_x.shape[1], ("T", "B", "D"), "params.cell")
            check_same_dtype("make_batch(rng).x", batch.x, "params", w_x.dtype)
        except (TypeError, ValueError, FloatingPointError) as err:
            raise type(err)(f"{err} (the batch of training step {i})") from None
        T, B, _ = batch.x.shape
        schedule = windows(T, options.k1, options.k2)
        normaliser = float(batch.mask.sum())
        if not normaliser > 0:
            raise ValueError(f"make_batch: batch of training step {i} has no step with a loss (mask all zero)")
        if carry is not None and options.carry_state:
            carried_B = next(iter(paths(carry)))[1].shape[0]
            if carried_B != B:
                raise ValueError(
                    f"make_batch: batch of training step {i} has {B} sequences, the state carried from the "
                    f"previous batch has {carried_B} (carry_state=True needs the same batch size)"
                )
            history = {0: carry}
        else:
            history = {0: cell.zero_state(params.cell, B)}
        lr_i = options.lr_at(i)
        step_loss = 0.0
        for c, (w, s, e) in enumerate(schedule):
            try:
                value, grads, cache = seq.window_loss_and_grads(batch, history[w], params, model, w, s, e, normaliser)
            except FloatingPointError as err:  # a state, output or gradient overflowed inside the window
                raise log.diverged(i, s, "the forward or backward pass", f"training diverged ({err})") from err
            # keep (copies of) only the states a later window can start from, so memory stays O(k2)
            w_next = schedule[c + 1].start if c + 1 < len(schedule) else T
            history = {t: v for t, v in history.items() if t >= w_next}
            for t in range(max(s + 1, w_next), e + 1):
                history[t] = copy_tree(cell.state_at(cache, t - w))
            if not np.isfinite(value):
                raise log.diverged(i, s, "loss", "loss became non-finite")
            if batch.mask[s:e].sum() == 0:
                continue
            step_loss += value
            bad = training.first_nonfinite(paths(grads))
            if bad is not None:
                raise log.diverged(i, s, f"the gradient {bad}", "gradient became non-finite")
            norm = global_norm(grads)
            was_clipped = False
            if options.max_norm is not None:
                grads, _ = clip_by_global_norm(grads, options.max_norm, step=i)
                was_clipped = norm > options.max_norm
            elif options.clip_value is not None:
                grads = clip_by_value(grads, options.clip_value, step=i)
                was_clipped = global_norm(grads) < norm
            if options.optimizer == "adam":
                assert opt_state is not None  # adam_init made it
                params, opt_state = adam_step(params, grads, opt_state, lr=lr_i)
            else:
                params = sgd_step(params, grads, lr=lr_i)
            log.update(i, value, norm, was_clipped)
        log.end_step(step_loss)
        carry = history[T] if options.carry_state else None
        if options.checkpoint is not None and options.save_now(i + 1):
            run_meta = dict(meta, carry_batch=None if carry is None else B)
            rng_state = dict(rng.bit_generator.state)
            state = TrainState(params, opt_state, i + 1, rng_state, carry, log.as_dict())
            save_train_state(options.checkpoint, state, run_meta)
    return params, log.result()


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
