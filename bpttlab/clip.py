"""Gradient clipping for (nested) gradient containers of NumPy arrays.

By global norm: if ||g|| > max_norm, g <- g * max_norm / ||g|| (direction kept),
as proposed by Pascanu, Mikolov & Bengio (2013). By value: each entry is clipped
to [-clip_value, clip_value] (direction generally changes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpttlab._checks import check_array_tree, check_int, check_number, check_optional
from bpttlab.tree import leaves, tree_map


def _finite_grads(grads: Any, step: int | None) -> None:
    """Every leaf a float NumPy array (check_array_tree), all finite: NaN or inf named with its field and the step."""
    for path, g in check_array_tree("grads", grads, finite=False):
        if not np.all(np.isfinite(g)):
            where = f" at training step {step}" if step is not None else ""
            raise FloatingPointError(f"{path}: non-finite gradient (NaN or inf){where}; clipping cannot repair it")


def global_norm(grads: Any) -> float:
    """sqrt of the sum of squares of every entry of every leaf, computed in float64.

    grads: a (nested) container of float NumPy arrays; a NaN or inf entry raises FloatingPointError
    naming its field (a norm of NaN would only hide where it came from).

    When the sum of squares overflows (entries above about 1e154), it is recomputed scaled by the
    largest magnitude, so a huge gradient gets its true norm; the result is inf only if the norm
    itself exceeds the float64 range.
    """
    _finite_grads(grads, None)
    arrays = [np.asarray(g, dtype=np.float64) for g in leaves(grads)]
    with np.errstate(over="ignore"):
        norm = float(np.sqrt(sum(float(np.sum(np.square(a))) for a in arrays)))
        if np.isfinite(norm) or not all(np.all(np.isfinite(a)) for a in arrays):
            return norm
        scale = max(float(np.max(np.abs(a))) for a in arrays if a.size)
        return float(scale * np.sqrt(sum(float(np.sum(np.square(a / scale))) for a in arrays)))


def clip_by_global_norm(grads: Any, max_norm: float, step: int | None = None) -> tuple[Any, float]:
    """Rescale ``grads`` so that its global norm is at most ``max_norm``; returns (clipped, norm before).

    Below the threshold nothing changes. A non-finite gradient raises FloatingPointError
    naming the field (and ``step``, the training step, when given).
    """
    max_norm = check_number("max_norm", max_norm, positive=True)
    step = check_optional(check_int, "step", step, 0)
    _finite_grads(grads, step)
    norm = global_norm(grads)
    if norm <= max_norm:
        return grads, norm
    if np.isfinite(norm):
        return tree_map(lambda g: g * (max_norm / norm), grads), norm
    # the norm overflows float64: scale by the largest entry first, then by the norm of the rescaled tree
    big = max(float(np.max(np.abs(g))) for g in leaves(grads))
    scaled = tree_map(lambda g: g / big, grads)
    return tree_map(lambda g: g * (max_norm / global_norm(scaled)), scaled), norm


def clip_by_value(grads: Any, clip_value: float, step: int | None = None) -> Any:
    """Clip every entry to [-clip_value, clip_value]."""
    clip_value = check_number("clip_value", clip_value, positive=True)
    step = check_optional(check_int, "step", step, 0)
    _finite_grads(grads, step)
    return tree_map(lambda g: np.clip(g, -clip_value, clip_value), grads)
