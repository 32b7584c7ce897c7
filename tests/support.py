"""Test support: tolerances, seeds, problem builders, hypothesis strategies and the error record.

Every test module imports what it shares from here (``from support import ...``);
``conftest.py`` holds only pytest's hooks and fixtures.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from bpttlab import rel_error
from bpttlab.init import init_readout, init_rnn
from bpttlab.params import ReadoutParams, RNNParams

ACTIVATIONS = ("tanh", "relu", "linear")
REDUCTIONS = ("mean", "sum")

# Tolerances of the issue: float64 cross-checks, finite differences, direction checks.
TOL_TORCH = 1e-10
TOL_FD = 1e-7
TOL_DIRECTION = 1e-6
TOL_LOOP = 1e-12

seeds = st.integers(min_value=0, max_value=2**32 - 1)


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
    """The SequenceGrads of ``mse_loss_and_grads`` in the order of ``RNNProblem.arrays``."""
    return [g.dx, g.dh0, *g.rnn, *g.readout]


GRAD_NAMES = ["dx", "dh0", "dW_xh", "dW_hh", "db_h", "dW_hy", "db_y"]

# Pre-activations from moderate to deep tanh saturation, where 1 - h*h would cancel.
SATURATING = np.array([0.5, 4.0, 8.0, 12.0, -15.0, 18.0])


def exact_one_minus_square(h: np.ndarray) -> np.ndarray:
    """1 - h^2 for the float64 values h, computed exactly with fractions and rounded once."""
    return np.array([float(1 - Fraction(float(v)) ** 2) for v in h])


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
    _MAX_REL[group] = max(_MAX_REL.get(group, 0.0), err)
    return err


def max_errors() -> dict[str, float]:
    """The largest relative error seen in each group so far."""
    return dict(_MAX_REL)
