"""Gradient clipping for (nested) gradient containers of NumPy arrays.

By global norm: if ||g|| > max_norm, g <- g * max_norm / ||g|| (direction kept),
as proposed by Pascanu, Mikolov & Bengio (2013). By value: each entry is clipped
to [-clip_value, clip_value] (direction generally changes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpttlab.optim import leaves, tree_map


def _check_finite_tree(grads: Any, step: int | None, path: str = "grads") -> None:
    if isinstance(grads, tuple):
        fields = getattr(grads, "_fields", None) or [str(i) for i in range(len(grads))]
        for name, g in zip(fields, grads):
            _check_finite_tree(g, step, f"{path}.{name}")
        return
    if not isinstance(grads, np.ndarray):
        raise TypeError(f"{path}: expected a numpy.ndarray, got {type(grads).__name__}")
    if not np.all(np.isfinite(grads)):
        where = f" at training step {step}" if step is not None else ""
        raise FloatingPointError(f"{path}: non-finite gradient (NaN or inf){where}; clipping cannot repair it")


def global_norm(grads: Any) -> float:
    """sqrt of the sum of squares of every entry of every leaf."""
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in leaves(grads))))


def _check_threshold(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive finite threshold, got {value!r}")


def clip_by_global_norm(grads: Any, max_norm: float, step: int | None = None) -> tuple[Any, float]:
    """Rescale ``grads`` so that its global norm is at most ``max_norm``; returns (clipped, norm before).

    Below the threshold nothing changes. A non-finite gradient raises FloatingPointError
    naming the field (and ``step``, the training step, when given).
    """
    _check_threshold("max_norm", max_norm)
    _check_finite_tree(grads, step)
    norm = global_norm(grads)
    if norm <= max_norm:
        return grads, norm
    scale = max_norm / norm
    return tree_map(lambda g: g * scale, grads), norm


def clip_by_value(grads: Any, clip_value: float, step: int | None = None) -> Any:
    """Clip every entry to [-clip_value, clip_value]."""
    _check_threshold("clip_value", clip_value)
    _check_finite_tree(grads, step)
    return tree_map(lambda g: np.clip(g, -clip_value, clip_value), grads)
