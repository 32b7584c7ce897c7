"""Optimisers for parameter containers of NumPy arrays (functional: state in, state out)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _check_pair(params: NamedTuple, grads: NamedTuple) -> None:
    if len(params) != len(grads) or any("d" + p != g for p, g in zip(params._fields, grads._fields)):
        raise TypeError(
            f"grads: expected the gradient container of {type(params).__name__} "
            f"(fields {['d' + f for f in params._fields]}), got {type(grads).__name__}"
        )
    for name, p, g in zip(grads._fields, params, grads):
        if np.shape(p) != np.shape(g):
            raise ValueError(f"grads.{name}: expected shape {np.shape(p)}, got {np.shape(g)}")
        if not np.all(np.isfinite(g)):
            raise FloatingPointError(f"grads.{name}: non-finite gradient; lower the learning rate or clip")


def sgd_step(params: NamedTuple, grads: NamedTuple, lr: float) -> NamedTuple:
    """p <- p - lr * dp for every field."""
    _check_pair(params, grads)
    if not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {lr}")
    return type(params)(*(p - lr * g for p, g in zip(params, grads)))


class AdamState(NamedTuple):
    step: int
    m: tuple
    v: tuple


def adam_init(params: NamedTuple) -> AdamState:
    """Zero first and second moments, one per field of ``params``."""
    return AdamState(0, tuple(np.zeros_like(p) for p in params), tuple(np.zeros_like(p) for p in params))


def adam_step(
    params: NamedTuple,
    grads: NamedTuple,
    state: AdamState,
    lr: float = 1e-2,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[NamedTuple, AdamState]:
    """One Adam update (Kingma & Ba 2015) with bias correction; returns (new params, new state)."""
    _check_pair(params, grads)
    if not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {lr}")
    b1, b2 = betas
    step = state.step + 1
    m = tuple(b1 * mi + (1 - b1) * g for mi, g in zip(state.m, grads))
    v = tuple(b2 * vi + (1 - b2) * g * g for vi, g in zip(state.v, grads))
    c1, c2 = 1 - b1**step, 1 - b2**step
    new = type(params)(*(p - lr * (mi / c1) / (np.sqrt(vi / c2) + eps) for p, mi, vi in zip(params, m, v)))
    return new, AdamState(step, m, v)
