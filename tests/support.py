"""Test support: tolerances, seeds, problem builders, hypothesis strategies and the error record.

Every test module imports what it shares from here (``from support import ...``);
``conftest.py`` holds only pytest's hooks and fixtures. Three kinds of problem are built here:

- :func:`make_problem`: a vanilla RNN with a readout and targets (the RNN loss tests,
  gradcheck, cost and bad-input tests);
- :func:`make_cell_problem`: any cell of the registry (a :class:`bpttlab.cells.Variant`)
  with inputs, an initial state and an upstream gradient dhs; the scalar every
  gradient is taken of is L = sum(dhs * hs) (the contract suite and the cell tests);
- :func:`make_seq_problem`: a sequence model (any Variant, a readout, a task batch) for
  the truncation, training and diagnostics tests.

Every builder draws random non-zero biases (the initialisers give zero or constant biases,
behind which a bias bug could hide) and a random initial state, from one seed.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import strategies as st

from bpttlab import cells, rel_error, tasks
from bpttlab.init import init_readout, init_rnn
from bpttlab.params import ReadoutParams, RNNParams
from bpttlab.seqmodel import SeqModel, SeqParams

ACTIVATIONS = ("tanh", "relu", "linear")
REDUCTIONS = ("mean", "sum")

# ----------------------------------------------------------------- tolerances (CONTRIBUTING.md, Tests)

TOL_TORCH = 1e-10  # float64: NumPy vs the torch twin vs torch.nn
TOL_FD = 1e-7  # central finite differences, small cases
TOL_DIRECTION = 1e-6  # random-direction check on long sequences
TOL_LOOP = 1e-12  # the sequence functions vs the step functions looped by hand
TOL_FLOAT32 = 1e-5  # a float32 run vs the float64 run of the same problem
TOL_SAME = 1e-13  # the same sums in another order: only rounding may differ
# Chunk gradients summed chunk by chunk vs in one product: a reassociated float64 sum. Where the
# terms cancel (db_y is a sum of signed residuals) the relative rounding reached 1e-13 in a sweep
# of 3000 random cases; anything from a wrong cut would be of the size of the gradient itself.
TOL_REASSOCIATED = 1e-12
TOL_OTHER_ALGORITHM = 1e-10  # another algorithm for the same float64 gradient (RTRL vs BPTT)
TOL_EXPECTATION = (
    1e-10  # a probability-weighted sum over every possible draw (thousands of terms) vs the exact gradient
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)

# ----------------------------------------------------------------- the vanilla RNN with a readout


class Dims(NamedTuple):
    """Sizes of one RNN problem: steps, batch, input, hidden, output."""

    T: int
    B: int
    D: int
    H: int
    O: int


def dims(T=(1, 30), B=(1, 4), D=(1, 8), H=(1, 8), O=(1, 3)) -> st.SearchStrategy[Dims]:
    """Hypothesis strategy of Dims, each size drawn from an inclusive (low, high) range."""
    return st.builds(Dims, *(st.integers(lo, hi) for lo, hi in (T, B, D, H, O)))


class RNNProblem(NamedTuple):
    """A seeded RNN problem: inputs, initial state, parameters, readout and per-step targets."""

    x: np.ndarray
    h0: np.ndarray
    params: RNNParams
    readout: ReadoutParams
    targets: np.ndarray

    @property
    def arrays(self) -> list[np.ndarray]:
        """Every differentiable array, in the order of ``grad_list``."""
        return [self.x, self.h0, *self.params, *self.readout]


def make_problem(seed: int, d: Dims, dtype=np.float64, recurrent_scale: float = 1.0) -> RNNProblem:
    """Build an RNNProblem of sizes ``d`` from ``np.random.default_rng(seed)`` (biases are non-zero)."""
    rng = np.random.default_rng(seed)
    params = init_rnn(d.D, d.H, rng, recurrent_scale=recurrent_scale)
    params = params._replace(b_h=0.1 * rng.standard_normal(d.H))
    readout = init_readout(d.H, d.O, rng)._replace(b_y=0.1 * rng.standard_normal(d.O))
    x = rng.standard_normal((d.T, d.B, d.D))
    h0 = 0.5 * rng.standard_normal((d.B, d.H))
    targets = rng.standard_normal((d.T, d.B, d.O))

    def cast(c):
        return type(c)(*(a.astype(dtype) for a in c))

    return RNNProblem(x.astype(dtype), h0.astype(dtype), cast(params), cast(readout), targets.astype(dtype))


def grad_list(g) -> list[np.ndarray]:
    """The LossGrads of ``rnn.mse_loss_and_grads`` in the order of ``RNNProblem.arrays``."""
    return [g.dx, g.dh0, *g.rnn, *g.readout]


GRAD_NAMES = ["dx", "dh0", "dW_xh", "dW_hh", "db_h", "dW_hy", "db_y"]

# ----------------------------------------------------------------- any cell of the registry

VARIANTS: tuple[cells.Variant, ...] = cells.VARIANTS
VARIANT_IDS: list[str] = [v.id for v in VARIANTS]
NN_VARIANTS: tuple[cells.Variant, ...] = tuple(v for v in VARIANTS if v.has_nn)
NN_VARIANT_IDS: list[str] = [v.id for v in NN_VARIANTS]


def variant(vid: str) -> cells.Variant:
    """The registry Variant with id ``vid`` ("rnn-tanh", "lstm", "gru-cho", ...)."""
    for v in VARIANTS:
        if v.id == vid:
            return v
    raise ValueError(f"vid: expected one of {VARIANT_IDS}, got {vid!r}")


class CellDims(NamedTuple):
    """Sizes of one cell problem: steps, batch, input, hidden."""

    T: int
    B: int
    D: int
    H: int


def cell_dims(T=(1, 30), B=(1, 4), D=(1, 8), H=(1, 8)) -> st.SearchStrategy[CellDims]:
    """Hypothesis strategy of CellDims, each size drawn from an inclusive (low, high) range."""
    return st.builds(CellDims, *(st.integers(lo, hi) for lo, hi in (T, B, D, H)))


def state_parts(spec: cells.CellSpec, state: Any) -> list[Any]:
    """The arrays (or tensors) of a state or state gradient: [h] or [h, c]."""
    return [state] if spec.state is None else list(state)


def make_state(spec: cells.CellSpec, parts: list[Any]) -> Any:
    """A state from its parts: the array itself, or the cell's state container."""
    return parts[0] if spec.state is None else spec.state(*parts)


def make_dstate(spec: cells.CellSpec, parts: list[Any]) -> Any:
    """A state gradient from its parts: the array itself, or the cell's state-gradient container."""
    return parts[0] if spec.state_grads is None else spec.state_grads(*parts)


class CellProblem(NamedTuple):
    """One cell's problem: x (T, B, D), state0 (as the NumPy cell takes it), params, dhs (T, B, H)."""

    variant: cells.Variant
    x: np.ndarray
    state0: Any
    params: Any
    dhs: np.ndarray

    @property
    def spec(self) -> cells.CellSpec:
        return self.variant.spec

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.variant.options)

    @property
    def state_arrays(self) -> list[np.ndarray]:
        return state_parts(self.spec, self.state0)

    @property
    def arrays(self) -> list[np.ndarray]:
        """Every differentiable array, in the order of ``grad_names``."""
        return [self.x, *self.state_arrays, *self.params]

    @property
    def grad_names(self) -> list[str]:
        """The names ``bpttlab.crosscheck.run`` gives the gradients of ``arrays``, in that order."""
        return ["dx", *(f"d{n}0" for n in self.spec.state_names), *self.spec.grads._fields]


def make_cell_problem(
    v: cells.Variant,
    seed: int,
    d: CellDims,
    dtype=np.float64,
    bias_scale: float = 0.5,
    state_scale: float = 0.5,
) -> CellProblem:
    """A seeded problem of sizes ``d`` for any registry Variant.

    The registry's initialiser gives the weights; every bias field gets a random offset
    (``bias_scale``), the initial state is random (``state_scale``), dhs is standard normal.
    Everything is drawn in float64 and then cast, so the float32 problem of a seed is the
    float64 one rounded.
    """
    rng = np.random.default_rng(seed)
    spec = v.spec
    params = spec.initialiser()(d.D, d.H, rng)
    params = type(params)(*(a + bias_scale * rng.standard_normal(a.shape) if a.ndim == 1 else a for a in params))
    x = rng.standard_normal((d.T, d.B, d.D))
    parts = [state_scale * rng.standard_normal((d.B, d.H)) for _ in spec.state_names]
    dhs = rng.standard_normal((d.T, d.B, d.H))
    params = type(params)(*(a.astype(dtype) for a in params))
    state0 = make_state(spec, [p.astype(dtype) for p in parts])
    return CellProblem(v, x.astype(dtype), state0, params, dhs.astype(dtype))


def cell_loss(p: CellProblem) -> float:
    """L = sum(dhs * hs) from the NumPy forward pass (reads the arrays of ``p`` afresh)."""
    hs, _ = p.spec.numpy().forward(p.x, p.state0, p.params, **p.options)
    return float(np.sum(p.dhs * hs))


def torch_state(spec: cells.CellSpec, state: Any, requires_grad: bool = False) -> Any:
    """A NumPy state (or state gradient) as tensors of the same dtype, in the same container."""
    import torch

    parts = [torch.tensor(a, requires_grad=requires_grad) for a in state_parts(spec, state)]
    return parts[0] if spec.state is None else type(state)(*parts)


def numpy_state(spec: cells.CellSpec, state: Any) -> Any:
    """A torch state (or state gradient) as NumPy arrays, in the same container."""
    parts = [a.detach().numpy() for a in state_parts(spec, state)]
    return parts[0] if spec.state is None else type(state)(*parts)


def flat_state(spec: cells.CellSpec, state: Any) -> np.ndarray:
    """A state's arrays (NumPy or torch) stacked into one array (n_parts, B, H)."""
    return np.stack([a.detach().numpy() if hasattr(a, "detach") else np.asarray(a) for a in state_parts(spec, state)])


# ----------------------------------------------------------------- sequence models on tasks

TASKS = ("adding", "copy", "temporal", "sine")  # sine: a per-step loss, every chunk has one


def sine_batch(T: int, B: int, rng: np.random.Generator) -> tasks.TaskBatch:
    """Next-value prediction on noisy sines as a TaskBatch whose mask covers every step."""
    x, y = tasks.noisy_sine(T, B, rng)
    return tasks.TaskBatch(x, y, np.ones((T, B)), "mse")


# Inclusive range of T for each task (copy: T = 2 * 2 + delay, delay >= 1; temporal order needs T >= 10).
TASK_T = {"adding": (2, 25), "copy": (5, 16), "temporal": (10, 25), "sine": (1, 25)}


def make_batch(task: str, T: int, B: int, rng: np.random.Generator) -> tasks.TaskBatch:
    """A batch of ``task`` with T steps (the copy task: two symbols of three, delay T - 4)."""
    if task == "adding":
        return tasks.adding_problem(T, B, rng)
    if task == "copy":
        return tasks.copy_task(T - 4, B, rng, length=2, n_symbols=3)
    if task == "temporal":
        return tasks.temporal_order(T, B, rng)
    if task == "sine":
        return sine_batch(T, B, rng)
    raise ValueError(f"task: expected one of {list(TASKS)}, got {task!r}")


def out_size(task: str, batch: tasks.TaskBatch) -> int:
    """O: the readout width a task needs (copy: 3 symbols + blank + go = 5 classes; temporal order: 4)."""
    classes = {"copy": 5, "temporal": 4}
    return classes[task] if task in classes else int(batch.y.shape[-1])


class SeqProblem(NamedTuple):
    """A sequence model, its parameters, a task batch and an initial state (NumPy)."""

    variant: cells.Variant
    model: SeqModel
    params: SeqParams
    batch: tasks.TaskBatch
    state0: Any

    @property
    def spec(self) -> cells.CellSpec:
        return self.variant.spec


def seq_model(v: cells.Variant, loss: str = "mse") -> SeqModel:
    """The SeqModel of a registry Variant (its option passed on; the other cells' options default)."""
    return SeqModel(cell=v.spec.name, loss=loss, **v.options)


def make_seq_problem(
    v: cells.Variant,
    task: str,
    T: int,
    B: int,
    H: int,
    seed: int,
    bias_scale: float = 0.5,
    state_scale: float = 0.5,
) -> SeqProblem:
    """A seeded sequence problem for any Variant: a batch of ``task``, the cell with random biases,
    a readout with a random bias, a random initial state (``state_scale`` 0 gives the zero state)."""
    rng = np.random.default_rng(seed)
    batch = make_batch(task, T, B, rng)
    D, O = batch.x.shape[-1], out_size(task, batch)
    cell = v.spec.initialiser()(D, H, rng)
    cell = type(cell)(*(a + bias_scale * rng.standard_normal(a.shape) if a.ndim == 1 else a for a in cell))
    readout = init_readout(H, O, rng)._replace(b_y=0.1 * rng.standard_normal(O))
    state0 = make_state(v.spec, [state_scale * rng.standard_normal((B, H)) for _ in v.spec.state_names])
    return SeqProblem(v, seq_model(v, batch.loss), SeqParams(cell, readout), batch, state0)


def seq_grad_names(params: SeqParams) -> list[str]:
    """Names of the leaves of a SeqGrads: the cell's gradient fields, then dW_hy, db_y."""
    return ["d" + f for f in params.cell._fields] + ["dW_hy", "db_y"]


class TruncationCase(NamedTuple):
    task: str
    T: int
    B: int
    H: int
    k1: int
    k2: int
    seed: int


@st.composite
def truncation_case(draw, tasks_: tuple[str, ...] = TASKS) -> TruncationCase:
    """A task, its T, sizes and 1 <= k1 <= k2, with k1 and k2 up to a little past T."""
    task = draw(st.sampled_from(tasks_))
    lo, hi = TASK_T[task]
    T = draw(st.integers(lo, hi))
    k1 = draw(st.integers(1, T + 2))
    k2 = draw(st.integers(k1, T + 3))
    return TruncationCase(task, T, draw(st.integers(1, 3)), draw(st.integers(1, 6)), k1, k2, draw(seeds))


# ----------------------------------------------------------------- saturation and bad input

# Pre-activations from moderate to deep tanh saturation, where 1 - h*h would cancel.
SATURATING = np.array([0.5, 4.0, 8.0, 12.0, -15.0, 18.0])


def exact_one_minus_square(h: np.ndarray) -> np.ndarray:
    """1 - h^2 for the float64 values h, computed exactly with fractions and rounded once."""
    return np.array([float(1 - Fraction(float(v)) ** 2) for v in np.ravel(h)]).reshape(np.shape(h))


def with_value(a: np.ndarray, index, value=np.nan) -> np.ndarray:
    """A copy of ``a`` with ``value`` (NaN unless told) at ``index``: bad-input cases."""
    a = a.copy()
    a[index] = value
    return a


# ----------------------------------------------------------------- the NumPy-vs-torch error record

_MAX_REL: dict[str, float] = {}


def record(group: str, a: np.ndarray, b: np.ndarray) -> float:
    """rel_error(a, b), remembered as the largest seen in ``group`` (printed after the run)."""
    err = rel_error(a, b)
    note(group, err)
    return err


def note(group: str, err: float) -> float:
    """Remember an error computed elsewhere (for example by bpttlab.crosscheck) under ``group``."""
    _MAX_REL[group] = max(_MAX_REL.get(group, 0.0), float(err))
    return float(err)


def max_errors() -> dict[str, float]:
    """The largest relative error seen in each group so far."""
    return dict(_MAX_REL)


@pytest.fixture()
def one_torch_thread():
    """torch on one thread for the test, the previous count restored afterwards (torch imported here only)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
