"""Seeded toy tasks. Nothing is downloaded: every array is generated here."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np

from bpttlab._checks import (
    check_choice,
    check_dtype_arg,
    check_finite,
    check_float_array,
    check_generator,
    check_int_array,
    check_interval,
    check_nonnegative,
    check_number,
    check_positive_int,
    check_same_dtype,
    check_shape,
    check_type,
)


class SequenceBatch(NamedTuple):
    """Inputs x (T, B, D) and per-step targets y (T, B, O)."""

    x: np.ndarray
    y: np.ndarray


def noisy_sine(
    T: int,
    B: int,
    rng: np.random.Generator,
    noise: float = 0.05,
    period_range: tuple[float, float] = (8.0, 24.0),
    dtype: object = np.float64,
) -> SequenceBatch:
    """Next-value prediction on noisy sine waves: x_t = s_t + noise, y_t = s_{t+1}.

    Each sequence gets its own period (uniform in period_range, in steps) and phase.
    The target is the clean next value, so the best possible mean squared error is
    the error of predicting the clean signal, not zero noise.
    Returns x (T, B, 1) and y (T, B, 1).
    """
    T, B = check_positive_int("T", T), check_positive_int("B", B)
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    noise = check_number("noise", noise, nonnegative=True)
    lo, hi = check_interval("period_range", period_range)
    period = rng.uniform(lo, hi, size=B)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=B)
    t = np.arange(T + 1)[:, None]
    clean = np.sin(2.0 * np.pi * t / period + phase)
    x = clean[:-1] + noise * rng.standard_normal((T, B))
    y = clean[1:]
    return SequenceBatch(x[..., None].astype(dtype), y[..., None].astype(dtype))


# ----------------------------------------------------------------- long-lag tasks


class TaskBatch(NamedTuple):
    """A batch of a task with a loss on some steps only.

    x (T, B, D) inputs; y (T, B, O) float targets for loss "mse", or (T, B) int class
    labels for loss "xent"; mask (T, B) float weights, 1 on the steps whose loss counts.
    """

    # Any: NumPy arrays, or torch tensors on the torch backend (bpttlab.torch.seq.batch_to_torch)
    x: Any
    y: Any
    mask: Any
    loss: str


class Baseline(NamedTuple):
    """What a model that learned nothing about the inputs scores on a task."""

    loss: float
    accuracy: float
    rule: str


ADDING_TOLERANCE = 0.04  # correct within 0.04 of the sum, adapted from Hochreiter & Schmidhuber (1997)


def adding_problem(
    T: int, B: int, rng: np.random.Generator, dtype: object = np.float64, window: int | None = None
) -> TaskBatch:
    """The adding problem: sum the two marked numbers of a sequence, answer at the last step.

    Channel 0 holds numbers drawn from U(0, 1); channel 1 marks one position in the
    first half and one in the second half. The target at step T-1 is the sum of the
    two marked numbers; the loss counts that step only. x (T, B, 2), y (T, B, 1).

    window: if given (2 <= window <= T), both markers lie in the last ``window`` steps,
    one in each half of that window, so the lag from the first marker to the answer is
    below ``window`` whatever T is, and T changes only the length of the sequence.
    None (the default) is window = T, the classic layout, with the same draws.
    """
    T, B = check_positive_int("T", T), check_positive_int("B", B)
    if T < 2:
        raise ValueError(f"T: expected at least 2 steps (one marker in each half), got {T}")
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    if window is None:
        window = T
    else:
        window = check_positive_int("window", window)
        if not 2 <= window <= T:
            raise ValueError(f"window: expected 2 <= window <= T = {T}, got {window}")
    start = T - window
    values = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(start, start + window // 2, size=B)
    second = rng.integers(start + window // 2, T, size=B)
    markers = np.zeros((T, B))
    cols = np.arange(B)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    y = np.zeros((T, B, 1))
    y[-1, :, 0] = values[first, cols] + values[second, cols]
    mask = np.zeros((T, B))
    mask[-1] = 1.0
    x = np.stack([values, markers], axis=-1)
    return TaskBatch(x.astype(dtype), y.astype(dtype), mask.astype(dtype), "mse")


def adding_baseline(tolerance: float = ADDING_TOLERANCE) -> Baseline:
    """Always answering 1 (the mean of the sum): MSE = Var(U1 + U2) = 1/6.

    Its accuracy is ``P(|U1 + U2 - 1| < tol)`` = 2 tol - tol^2 for the triangular law of the sum (tol <= 1).
    """
    tol = check_number("tolerance", tolerance, low=0.0, high=1.0, open_low=True)
    return Baseline(1.0 / 6.0, 2 * tol - tol**2, "always answer 1, the mean of the sum")


def copy_task(
    delay: int, B: int, rng: np.random.Generator, length: int = 5, n_symbols: int = 8, dtype: object = np.float64
) -> TaskBatch:
    """The copy (memorisation) task: read ``length`` symbols, wait ``delay`` steps, write them back.

    Categories: 0 is blank, 1..n_symbols are data, n_symbols + 1 is the "go" marker,
    shown at the last step of the delay. T = 2 * length + delay steps; inputs are
    one-hot, x (T, B, n_symbols + 2); y (T, B) int labels (blank except the last
    ``length`` steps, which must reproduce the data); the loss counts those steps only.
    """
    delay, B = check_positive_int("delay", delay), check_positive_int("B", B)
    length, n_symbols = check_positive_int("length", length), check_positive_int("n_symbols", n_symbols)
    if n_symbols < 2:
        raise ValueError(f"n_symbols: expected at least 2 data symbols, got {n_symbols}")
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    T = 2 * length + delay
    data = rng.integers(1, n_symbols + 1, size=(length, B))
    inputs = np.zeros((T, B), dtype=np.int64)
    inputs[:length] = data
    inputs[length + delay - 1] = n_symbols + 1
    labels = np.zeros((T, B), dtype=np.int64)
    labels[-length:] = data
    mask = np.zeros((T, B))
    mask[-length:] = 1.0
    x = np.eye(n_symbols + 2)[inputs]
    return TaskBatch(x.astype(dtype), labels, mask.astype(dtype), "xent")


def copy_baseline(n_symbols: int = 8) -> Baseline:
    """Guessing uniformly among the data symbols: cross-entropy log(n_symbols), accuracy 1/n_symbols."""
    n_symbols = check_positive_int("n_symbols", n_symbols)
    if n_symbols < 2:
        raise ValueError(f"n_symbols: expected at least 2 data symbols (as copy_task), got {n_symbols}")
    return Baseline(float(np.log(n_symbols)), 1.0 / n_symbols, "uniform guess among the data symbols")


def temporal_order(T: int, B: int, rng: np.random.Generator, dtype: object = np.float64) -> TaskBatch:
    """The temporal-order task: classify the order of two relevant symbols among distractors.

    Symbols 0-3 are distractors, 4 is X and 5 is Y. One relevant symbol sits at a
    random step in [0.1 T, 0.2 T), the other in [0.5 T, 0.6 T); the class, given at
    the last step, is XX, XY, YX or YY (0-3). x (T, B, 6) one-hot, y (T, B) int.
    """
    T, B = check_positive_int("T", T), check_positive_int("B", B)
    if T < 10:
        raise ValueError(f"T: expected at least 10 steps (two separate windows for the symbols), got {T}")
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    symbols = rng.integers(0, 4, size=(T, B))
    cols = np.arange(B)
    # the integer steps of [0.1 T, 0.2 T) and [0.5 T, 0.6 T): ceil(a T / 10) .. ceil(b T / 10) - 1, in exact integers
    t1 = rng.integers(-(-T // 10), -(-2 * T // 10), size=B)
    t2 = rng.integers(-(-5 * T // 10), -(-6 * T // 10), size=B)
    first, second = rng.integers(0, 2, size=B), rng.integers(0, 2, size=B)
    symbols[t1, cols] = 4 + first
    symbols[t2, cols] = 4 + second
    labels = np.zeros((T, B), dtype=np.int64)
    labels[-1] = 2 * first + second
    mask = np.zeros((T, B))
    mask[-1] = 1.0
    return TaskBatch(np.eye(6)[symbols].astype(dtype), labels, mask.astype(dtype), "xent")


def temporal_order_baseline() -> Baseline:
    """Guessing uniformly among the four classes: cross-entropy log 4, accuracy 1/4."""
    return Baseline(float(np.log(4.0)), 0.25, "uniform guess among the four orders")


def check_task_batch(batch: object, name: str = "batch", same_dtype: bool = True, backend: str = "numpy") -> TaskBatch:
    """A TaskBatch of NumPy arrays (or of tensors, ``backend="torch"``): x (T, B, D) float, finite; mask (T, B) of
    finite weights >= 0 in x's dtype; y (T, B, O) float in x's dtype, finite, for loss "mse", or (T, B) int
    labels >= 0 for "xent".

    ``name`` is how the messages call the batch (for example "make_batch(rng)" in a training loop);
    ``same_dtype=False`` lets mask and y have another float dtype than x (the torch loop casts all three).
    """
    check_type(name, batch, TaskBatch, "a bpttlab.tasks.TaskBatch")
    batch = cast(TaskBatch, batch)  # check_type raised unless it is one
    x, y, mask = batch.x, batch.y, batch.mask
    check_choice(f"{name}.loss", batch.loss, ("mse", "xent"))
    check_float_array(f"{name}.x", x, ("T", "B", "D"), backend)
    check_finite(f"{name}.x", x, time_axis=0)
    check_float_array(f"{name}.mask", mask, ("T", "B"), backend)
    check_shape(f"{name}.mask", mask, tuple(x.shape[:2]), ("T", "B"))
    if same_dtype:
        check_same_dtype(f"{name}.mask", mask, f"{name}.x", x.dtype)
    check_finite(f"{name}.mask", mask, time_axis=0)
    check_nonnegative(f"{name}.mask", mask, time_axis=0)
    if batch.loss == "mse":
        check_float_array(f"{name}.y", y, ("T", "B", "O"), backend)
        check_shape(f"{name}.y", y, tuple(x.shape[:2]) + tuple(y.shape[2:]), ("T", "B", "O"))
        if same_dtype:
            check_same_dtype(f"{name}.y", y, f"{name}.x", x.dtype)
        check_finite(f"{name}.y", y, time_axis=0)
    else:
        check_int_array(f"{name}.y", y, ("T", "B"), low=0, backend=backend)
        check_shape(f"{name}.y", y, tuple(x.shape[:2]), ("T", "B"))
    return batch


def accuracy(ys: np.ndarray, batch: TaskBatch, tolerance: float = ADDING_TOLERANCE) -> float:
    """Fraction of the masked steps answered correctly: argmax = label ("xent") or ``|error| < tolerance`` ("mse").

    ys (T, B, O): a model's outputs for ``batch`` (NumPy); at least one step must have mask > 0.
    """
    check_task_batch(batch, "batch", same_dtype=False)
    check_float_array("ys", ys, ("T", "B", "O"))
    check_shape("ys", ys, batch.x.shape[:2] + ys.shape[2:], ("T", "B", "O"))
    check_finite("ys", ys, time_axis=0)
    tolerance = check_number("tolerance", tolerance, positive=True)
    if batch.loss == "mse":
        check_shape("ys", ys, batch.y.shape, ("T", "B", "O"))
    elif int(batch.y.max()) >= ys.shape[-1]:
        raise ValueError(
            f"batch.y: expected class labels below O = {ys.shape[-1]} (the outputs in ys), got {int(batch.y.max())}"
        )
    if not np.any(batch.mask > 0):
        raise ValueError("batch.mask: expected at least one step with mask > 0 to score")
    m = batch.mask > 0
    if batch.loss == "xent":
        correct = ys.argmax(axis=-1) == batch.y
    else:
        correct = np.all(np.abs(ys - batch.y) < tolerance, axis=-1)
    return float(correct[m].mean())
