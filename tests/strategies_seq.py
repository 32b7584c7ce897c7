"""Builders and hypothesis strategies for the sequence-model tests (truncation, training, diagnostics).

Imported as a plain module from the tests folder (``from strategies_seq import ...``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from bpttlab import tasks
from bpttlab.init import init_readout, init_rnn
from bpttlab.numpy import seq
from bpttlab.optim import leaves
from bpttlab.torch import to_torch

from support import record  # noqa: F401  (re-exported: the shared error record printed after the run)

TOL_TORCH = 1e-10  # float64 NumPy vs torch (CONTRIBUTING.md, Tests)
TASKS = ("adding", "copy", "temporal", "sine")  # sine: a per-step loss, every chunk has one


# ----------------------------------------------------------------- batches and parameters


def sine_batch(T: int, B: int, rng: np.random.Generator) -> tasks.TaskBatch:
    """Next-value prediction on noisy sines as a TaskBatch whose mask covers every step."""
    x, y = tasks.noisy_sine(T, B, rng)
    return tasks.TaskBatch(x, y, np.ones((T, B)), "mse")


def make_batch(task: str, size: int, B: int, rng: np.random.Generator) -> tasks.TaskBatch:
    """A batch of ``task``; ``size`` is T, except for copy where it is the delay (T = 2 * 2 + delay)."""
    if task == "adding":
        return tasks.adding_problem(size, B, rng)
    if task == "copy":
        return tasks.copy_task(size, B, rng, length=2, n_symbols=3)
    if task == "temporal":
        return tasks.temporal_order(size, B, rng)
    if task == "sine":
        return sine_batch(size, B, rng)
    raise ValueError(f"task: unknown {task!r}")


def out_size(task: str, batch: tasks.TaskBatch) -> int:
    """O: the readout width the task needs (copy: 3 symbols + blank + go = 5 classes; temporal order: 4)."""
    return {"copy": 5, "temporal": 4}.get(task, batch.y.shape[-1])


class SeqProblem(NamedTuple):
    model: seq.SeqModel
    params: seq.SeqParams
    batch: tasks.TaskBatch
    state0: np.ndarray


def make_seq_problem(
    task: str, size: int, B: int, H: int, seed: int, activation: str = "tanh", state0_scale: float = 0.5
) -> SeqProblem:
    """A seeded problem: batch of ``task``, RNN + readout with non-zero biases, a random initial state."""
    rng = np.random.default_rng(seed)
    batch = make_batch(task, size, B, rng)
    D, O = batch.x.shape[-1], out_size(task, batch)
    cell = init_rnn(D, H, rng)._replace(b_h=0.1 * rng.standard_normal(H))
    readout = init_readout(H, O, rng)._replace(b_y=0.1 * rng.standard_normal(O))
    model = seq.SeqModel(activation=activation, loss=batch.loss)
    state0 = state0_scale * rng.standard_normal((B, H))
    return SeqProblem(model, seq.SeqParams(cell, readout), batch, state0)


def size_range(task: str) -> tuple[int, int]:
    """Inclusive range of the ``size`` argument of ``make_batch`` that gives T <= 25."""
    return {"adding": (2, 25), "copy": (1, 12), "temporal": (10, 25), "sine": (1, 25)}[task]


def seq_T(task: str, size: int) -> int:
    return 2 * 2 + size if task == "copy" else size


# ----------------------------------------------------------------- gradients as flat lists

PARAM_NAMES = ["W_xh", "W_hh", "b_h", "W_hy", "b_y"]


def grad_leaves(grads: seq.SeqGrads) -> list[np.ndarray]:
    """dW_xh, dW_hh, db_h, dW_hy, db_y of a SeqGrads."""
    return [np.asarray(g) for g in leaves(grads)]


def torch_params(params: seq.SeqParams) -> seq.SeqParams:
    """SeqParams of float64 leaf tensors with requires_grad."""
    return seq.SeqParams(to_torch(params.cell, requires_grad=True), to_torch(params.readout, requires_grad=True))


def torch_grad_leaves(tparams: seq.SeqParams) -> list[np.ndarray]:
    return [t.grad.detach().numpy().copy() for t in leaves(tparams)]




# ----------------------------------------------------------------- strategies

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def truncation_case(draw, task: str):
    """(size, B, H, k1, k2, activation, seed) with 1 <= k1 <= k2, k1 and k2 up to a little past T."""
    lo, hi = size_range(task)
    size = draw(st.integers(lo, hi))
    T = seq_T(task, size)
    k1 = draw(st.integers(1, T + 2))
    k2 = draw(st.integers(k1, T + 3))
    B = draw(st.integers(1, 3))
    H = draw(st.integers(1, 6))
    activation = draw(st.sampled_from(("tanh", "relu", "linear")))
    return size, B, H, k1, k2, activation, draw(seeds)
