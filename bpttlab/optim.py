"""Optimisers for parameter containers of NumPy arrays (functional: state in, state out).

A container is a NamedTuple of arrays, or a NamedTuple of such containers (for
example ``SeqParams(cell=RNNParams, readout=ReadoutParams)``); its gradient
container has the same structure with ``d``-prefixed field names at the leaves.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import numpy as np

from bpttlab._checks import (
    check_array_tree,
    check_float_input,
    check_int,
    check_number,
    check_same_dtype,
    check_same_tree,
    check_type,
)
from bpttlab.tree import leaves, tree_map

__all__ = ["AdamState", "PiecewiseLR", "adam_init", "adam_step", "leaves", "piecewise_lr", "sgd_step", "tree_map"]


def _params(params: Any) -> None:
    """params: a container of float NumPy arrays, all finite."""
    if not isinstance(params, tuple):
        raise TypeError(f"params: expected a parameter container (a NamedTuple of arrays), got {type(params).__name__}")
    check_array_tree("params", params)


def _pair(params: Any, grads: Any, path: str = "grads") -> None:
    """grads: the gradient container of ``params`` (field names with a 'd'), same shapes and dtypes, finite."""
    if isinstance(params, tuple):
        if not isinstance(grads, tuple) or len(params) != len(grads):
            raise TypeError(
                f"{path}: expected a container shaped like {type(params).__name__}, got {type(grads).__name__}"
            )
        pf, gf = getattr(params, "_fields", None), getattr(grads, "_fields", None)
        for i, (p, g) in enumerate(zip(params, grads)):
            name = gf[i] if gf else str(i)
            if pf and gf and not isinstance(p, tuple) and gf[i] != "d" + pf[i]:
                raise TypeError(
                    f"{path}: expected the gradient container of {type(params).__name__} "
                    f"(fields {['d' + f for f in pf]}), got {type(grads).__name__} (fields {list(gf)})"
                )
            _pair(p, g, f"{path}.{name}")
        return
    if not isinstance(grads, np.ndarray):
        raise TypeError(f"{path}: expected a numpy.ndarray of shape {np.shape(params)}, got {type(grads).__name__}")
    if np.shape(params) != np.shape(grads):
        raise ValueError(f"{path}: expected shape {np.shape(params)}, got {np.shape(grads)}")
    check_float_input(path, grads, "(...)", 0, finite=False)
    check_same_dtype(path, grads, "the parameter", params.dtype)
    if not np.all(np.isfinite(grads)):
        raise FloatingPointError(f"{path}: non-finite gradient; lower the learning rate or clip the gradient")


#: A parameter container type: an update returns the container type it was given.
P = TypeVar("P", bound=tuple)


def sgd_step(params: P, grads: NamedTuple, lr: float) -> P:
    """p <- p - lr * dp for every leaf."""
    _params(params)
    _pair(params, grads)
    lr = check_number("lr", lr, positive=True)
    return tree_map(lambda p, g: p - lr * g, params, grads)


class AdamState(NamedTuple):
    step: int
    m: Any
    v: Any


def adam_init(params: NamedTuple) -> AdamState:
    """Zero first and second moments shaped like ``params``."""
    _params(params)
    zeros = tree_map(np.zeros_like, params)
    return AdamState(0, zeros, tree_map(np.zeros_like, params))


def adam_step(
    params: P,
    grads: NamedTuple,
    state: AdamState,
    lr: float = 1e-2,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[P, AdamState]:
    """One Adam update (Kingma & Ba 2015) with bias correction; returns (new params, new state)."""
    _params(params)
    _pair(params, grads)
    lr = check_number("lr", lr, positive=True)
    if not isinstance(state, AdamState):
        raise TypeError(f"state: expected AdamState from adam_init, got {type(state).__name__}")
    done = check_int("state.step", state.step, 0)
    for name, moment in (("state.m", state.m), ("state.v", state.v)):
        check_same_tree(name, moment, params, "params")
        check_array_tree(name, moment)
    check_type("betas", betas, (tuple, list), "a pair (beta1, beta2) of numbers in [0, 1)")
    if len(betas) != 2:
        raise ValueError(f"betas: expected a pair (beta1, beta2), got {len(betas)} values")
    b1, b2 = (check_number(f"betas[{k}]", beta, low=0.0, high=1.0, open_high=True) for k, beta in enumerate(betas))
    eps = check_number("eps", eps, positive=True)
    step = done + 1
    m = tree_map(lambda mi, g: b1 * mi + (1 - b1) * g, state.m, grads)
    v = tree_map(lambda vi, g: b2 * vi + (1 - b2) * g * g, state.v, grads)
    c1, c2 = 1 - b1**step, 1 - b2**step
    new = tree_map(lambda p, mi, vi: p - lr * (mi / c1) / (np.sqrt(vi / c2) + eps), params, m, v)
    return new, AdamState(step, m, v)


class PiecewiseLR(NamedTuple):
    """A learning-rate schedule: ``lrs[j]`` for the training steps from ``boundaries[j - 1]`` on.

    Called with a 0-based training step; the training loops take it as ``lr``.
    """

    lrs: tuple[float, ...]
    boundaries: tuple[int, ...]

    def __call__(self, step: int) -> float:
        j = sum(1 for b in self.boundaries if step >= b)
        return self.lrs[j]


def piecewise_lr(lrs: Any, boundaries: Any) -> PiecewiseLR:
    """The schedule ``lrs[0]`` for steps < ``boundaries[0]``, ``lrs[1]`` up to ``boundaries[1]``, ...

    For example ``piecewise_lr([1e-2, 1e-3], [600])``: 600 steps at 1e-2, then a cool-down at
    1e-3 with the same optimiser state. ``lrs``: n positive numbers; ``boundaries``: n - 1
    increasing positive step counts.
    """
    check_type("lrs", lrs, (list, tuple), "a list of learning rates")
    check_type("boundaries", boundaries, (list, tuple), "a list of step counts")
    if len(lrs) != len(boundaries) + 1:
        raise ValueError(
            f"lrs, boundaries: expected one more learning rate than boundaries, got {len(lrs)} and {len(boundaries)}"
        )
    rates = tuple(check_number(f"lrs[{j}]", v, positive=True) for j, v in enumerate(lrs))
    steps = tuple(check_int(f"boundaries[{j}]", b, 1) for j, b in enumerate(boundaries))
    for j in range(1, len(steps)):
        if steps[j] <= steps[j - 1]:
            raise ValueError(
                f"boundaries[{j}]: expected more than boundaries[{j - 1}] = {steps[j - 1]}, got {steps[j]}"
            )
    return PiecewiseLR(rates, steps)
