"""The contract both training loops keep: one set of options, one log, one way to stop and resume.

``bpttlab.numpy.train.train`` and ``bpttlab.torch.train.train`` take the same keyword
arguments with the same defaults (the torch loop adds ``device``), check them here with the
same messages, and differ only in how a chunk's gradient is computed and applied:

- ``lr``: a float, or a schedule ``lr(step) -> float`` of the 0-based training step
  (counted across resumes, so a resumed run follows the same schedule); see
  :func:`bpttlab.optim.piecewise_lr`;
- ``k1``, ``k2``: TBPTT(k1, k2) (:func:`bpttlab.truncation.windows`), an update after every
  chunk; None and None is full BPTT, one update per batch;
- ``carry_state``: start each batch from the last batch's final state (its history cut),
  for streams whose batches are consecutive chunks of long sequences;
- ``max_norm`` or ``clip_value``: clip the gradient by global norm or by value;
- ``checkpoint``, ``checkpoint_every``, ``resume``: save the whole training state every
  ``checkpoint_every`` training steps and after the last (atomically, without pickle), and
  continue from the file when ``resume`` is true and it exists (without ``resume``, an
  existing file is an error: a fresh run never overwrites a checkpoint). Parameters, optimiser
  moments, the step, the generator ``rng``'s state, the carried state and the log are all
  restored, so an interrupted run resumed ends bit-identical to one that never stopped;
- ``progress``: a tqdm bar; None shows it only when the environment variable
  ``BPTTLAB_PROGRESS`` is 1, so stored lesson outputs and tests never hold one.

A loss or gradient that is not finite stops training with :class:`TrainingDiverged`: its
message names the training step, the chunk, the tensor and the last finite values, and it
carries the log up to the stop (and the last checkpoint stays on disk).
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpttlab._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_number,
    check_optional,
    check_positive_int,
    check_type,
)
from bpttlab.saving import check_path
from bpttlab.seqmodel import TrainLog
from bpttlab.tasks import TaskBatch

#: The defaults both loops share.
DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "optimizer": "adam",
    "max_norm": None,
    "clip_value": None,
    "k1": None,
    "k2": None,
    "carry_state": False,
    "checkpoint": None,
    "checkpoint_every": 100,
    "resume": False,
    "progress": None,
}


class TrainingDiverged(FloatingPointError):
    """A non-finite loss or gradient stopped training.

    ``step``: the training step (0-based); ``tensor``: what became non-finite ("loss", a
    parameter's gradient, or the forward pass); ``log``: the :class:`~bpttlab.seqmodel.TrainLog` of the steps
    completed before it.
    """

    def __init__(self, message: str, *, step: int, tensor: str, log: TrainLog) -> None:
        super().__init__(message)
        self.step = step
        self.tensor = tensor
        self.log = log


@dataclass(frozen=True)
class Options:
    """The checked options of one call (see the module's docstring)."""

    steps: int
    lr: float | Callable[[int], float]
    optimizer: str
    max_norm: float | None
    clip_value: float | None
    k1: int | None
    k2: int | None
    carry_state: bool
    checkpoint: pathlib.Path | None
    checkpoint_every: int
    resume: bool
    progress: bool

    def lr_at(self, step: int) -> float:
        """The learning rate of training step ``step``."""
        if not callable(self.lr):
            return self.lr
        value = self.lr(step)
        try:
            return check_number(f"lr({step})", value, positive=True)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{err} (lr is a schedule: it must return a positive finite number)") from None

    def meta(self, loop: str, model: dict[str, Any]) -> dict[str, Any]:
        """What a checkpoint records of the run, and a resumed run must match."""
        return {
            "loop": loop,
            "model": model,
            "optimizer": self.optimizer,
            "lr": "schedule" if callable(self.lr) else self.lr,
            "max_norm": self.max_norm,
            "clip_value": self.clip_value,
            "k1": self.k1,
            "k2": self.k2,
            "carry_state": self.carry_state,
        }

    def save_now(self, done: int) -> bool:
        """Whether to write the checkpoint after ``done`` training steps."""
        return self.checkpoint is not None and (done % self.checkpoint_every == 0 or done == self.steps)

    def resume_from(self) -> pathlib.Path | None:
        """The checkpoint to continue from, or None to start afresh."""
        if self.resume and self.checkpoint is not None and self.checkpoint.exists():
            return self.checkpoint
        return None


def show_progress(progress: bool | None) -> bool:
    """None means: show a progress bar only when the environment variable BPTTLAB_PROGRESS is 1."""
    check_optional(check_bool, "progress", progress)
    return os.environ.get("BPTTLAB_PROGRESS") == "1" if progress is None else bool(progress)


def check_options(
    make_batch: Any,
    steps: Any,
    rng: Any,
    *,
    lr: Any,
    optimizer: Any,
    max_norm: Any,
    clip_value: Any,
    k1: Any,
    k2: Any,
    carry_state: Any,
    checkpoint: Any,
    checkpoint_every: Any,
    resume: Any,
    progress: Any,
) -> Options:
    """Check the arguments both loops share; raise TypeError or ValueError naming the argument."""
    check_callable("make_batch", make_batch, "a function rng -> TaskBatch")
    steps = check_positive_int("steps", steps)
    check_generator("rng", rng)
    if not callable(lr):
        lr = check_number("lr", lr, positive=True)
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    max_norm = check_optional(check_number, "max_norm", max_norm, positive=True)
    clip_value = check_optional(check_number, "clip_value", clip_value, positive=True)
    if max_norm is not None and clip_value is not None:
        raise ValueError("max_norm, clip_value: expected at most one clipping rule, got both")
    k1 = check_optional(check_positive_int, "k1", k1)
    k2 = check_optional(check_positive_int, "k2", k2)
    if k2 is not None and k1 is None:
        raise ValueError("k2: expected k1 as well (TBPTT(k1, k2)); k1 = k2 = None is full BPTT")
    if k1 is not None and k2 is not None and k2 < k1:
        raise ValueError(
            f"k2: expected k2 >= k1 = {k1} (each chunk's losses must lie inside its backward window), got {k2}"
        )
    carry_state = check_bool("carry_state", carry_state)
    path = check_optional(check_path, "checkpoint", checkpoint)
    checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
    resume = check_bool("resume", resume)
    if resume and path is None:
        raise ValueError("resume: expected a checkpoint path to resume from (checkpoint=...), got checkpoint=None")
    if path is not None and not resume and path.exists():
        raise FileExistsError(
            f"checkpoint: {path} exists; pass resume=True to continue that run, or another path to start afresh "
            "(a fresh run would overwrite it)"
        )
    return Options(
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        max_norm=max_norm,
        clip_value=clip_value,
        k1=k1,
        k2=k2,
        carry_state=carry_state,
        checkpoint=path,
        checkpoint_every=checkpoint_every,
        resume=resume,
        progress=show_progress(progress),
    )


def check_batch(batch: Any, step: int) -> TaskBatch:
    """The batch ``make_batch`` returned at training step ``step`` must be a TaskBatch."""
    if not isinstance(batch, TaskBatch):
        raise TypeError(
            f"make_batch: expected it to return a TaskBatch, got {type(batch).__name__} (training step {step})"
        )
    return batch


def restore_rng(rng: np.random.Generator, rng_state: dict, where: str) -> None:
    """Put ``rng`` (the caller's generator) in the saved state, in place."""
    name = type(rng.bit_generator).__name__
    if rng_state.get("bit_generator") != name:
        raise ValueError(
            f"rng: {where} was written with a {rng_state.get('bit_generator')} generator, rng is a {name} one"
        )
    rng.bit_generator.state = rng_state


def steps_iter(first: int, options: Options) -> Iterable[int]:
    """Training steps ``first .. steps - 1``, with a progress bar when asked."""
    iterator: Iterable[int] = range(first, options.steps)
    if options.progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="training", leave=False, initial=first, total=options.steps)
    return iterator


class Log:
    """The log being written: one ``loss`` per training step, the rest per update."""

    FIELDS = TrainLog._fields

    def __init__(self, saved: dict[str, np.ndarray] | None = None) -> None:
        self.columns: dict[str, list] = {f: [] for f in self.FIELDS}
        if saved is not None:
            for f in self.FIELDS:
                self.columns[f] = list(saved[f].tolist())
        self.last_finite: tuple[int, float, float] | None = None  # (step, loss, gradient norm) of the last update

    def update(self, step: int, loss: float, norm: float, clipped: bool) -> None:
        self.columns["update_loss"].append(loss)
        self.columns["grad_norm"].append(norm)
        self.columns["clipped"].append(bool(clipped))
        self.last_finite = (step, loss, norm)

    def end_step(self, loss: float) -> None:
        self.columns["loss"].append(loss)

    def done(self) -> int:
        return len(self.columns["loss"])

    def result(self) -> TrainLog:
        c = self.columns
        return TrainLog(
            np.array(c["loss"], dtype=np.float64),
            np.array(c["update_loss"], dtype=np.float64),
            np.array(c["grad_norm"], dtype=np.float64),
            np.array(c["clipped"], dtype=bool),
        )

    def as_dict(self) -> dict[str, np.ndarray]:
        return self.result()._asdict()

    def diverged(self, step: int, start: int, tensor: str, what: str, hint: bool = True) -> TrainingDiverged:
        """The error to raise when ``tensor`` became non-finite at ``step`` in the chunk from ``start``."""
        if self.last_finite is None:
            last = "no update had been made yet"
        else:
            s, loss, norm = self.last_finite
            last = f"the last finite update was at training step {s}: chunk loss {loss:.6g}, gradient norm {norm:.6g}"
        advice = "; lower the learning rate or clip the gradient" if hint else ""
        message = f"{what} at training step {step} (chunk starting at time step {start}), in {tensor}; {last}{advice}"
        return TrainingDiverged(message, step=step, tensor=tensor, log=self.result())


def first_nonfinite(named: Iterable[tuple[str, Any]]) -> str | None:
    """The name of the first array in ``named`` with a NaN or inf entry, or None."""
    for name, value in named:
        if value is not None and not bool(np.all(np.isfinite(np.asarray(value)))):
            return name
    return None


def check_saved_log(where: str, log: dict[str, np.ndarray], step: int, steps: int) -> dict[str, np.ndarray]:
    """A checkpoint's log must hold one loss per step done and the four TrainLog columns; step <= steps."""
    check_type("log", log, dict, "a dict")
    if step > steps:
        raise ValueError(
            f"steps: the checkpoint {where} holds {step} training steps, more than steps = {steps}; "
            f"pass steps >= {step} to continue it, or another checkpoint path to start afresh"
        )
    missing = [f for f in TrainLog._fields if f not in log]
    if missing:
        raise ValueError(f"{where}: the checkpoint's log lacks {missing}; it was not written by a training loop")
    if len(log["loss"]) != step:
        raise ValueError(f"{where}: corrupted checkpoint: its log has {len(log['loss'])} steps, its step is {step}")
    if not all(math.isfinite(v) for v in log["update_loss"].tolist()):
        raise ValueError(f"{where}: corrupted checkpoint: its log holds non-finite losses")
    return log
