"""bpttlab: backpropagation through time, written out by hand and checked.

``bpttlab.numpy`` holds hand-written forward and backward passes;
``bpttlab.torch`` holds the same maths in torch ops, differentiated by autograd.
``bpttlab.cells`` is the registry both read. The torch backend is imported on demand
(``import bpttlab.torch``); so are the modules that draw (``plotting``, ``animation``,
which need matplotlib and Pillow) and the NumPy-backend tools ``diagnostics`` and
``crosscheck``, so ``import bpttlab.numpy`` needs NumPy alone and ``import bpttlab.torch``
loads nothing of the NumPy backend.
"""

from __future__ import annotations

import importlib
from typing import Any

from bpttlab import (
    cells,
    clip,
    cost,
    gradcheck,
    init,
    metrics,
    optim,
    params,
    saving,
    seqmodel,
    series,
    tasks,
    text,
    training,
    tree,
    truncation,
    video,
)
from bpttlab.gradcheck import directional_check, numerical_gradient, rel_error
from bpttlab.params import MLPGrads, MLPParams, ReadoutGrads, ReadoutParams, RNNGrads, RNNParams

__version__ = "0.1.0"

_LAZY = ("animation", "plotting", "crosscheck", "diagnostics")


def __getattr__(name: str) -> Any:
    """Import the drawing modules, diagnostics and the cross-check on first use."""
    if name in _LAZY:
        return importlib.import_module(f"bpttlab.{name}")
    raise AttributeError(f"module 'bpttlab' has no attribute {name!r}")


__all__ = [
    "animation",
    "cells",
    "clip",
    "cost",
    "crosscheck",
    "diagnostics",
    "gradcheck",
    "init",
    "metrics",
    "optim",
    "params",
    "plotting",
    "saving",
    "seqmodel",
    "series",
    "tasks",
    "text",
    "training",
    "tree",
    "truncation",
    "video",
    "directional_check",
    "numerical_gradient",
    "rel_error",
    "MLPGrads",
    "MLPParams",
    "ReadoutGrads",
    "ReadoutParams",
    "RNNGrads",
    "RNNParams",
]
