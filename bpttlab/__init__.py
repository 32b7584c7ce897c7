"""bpttlab: backpropagation through time, written out by hand and checked.

``bpttlab.numpy`` holds hand-written forward and backward passes;
``bpttlab.torch`` holds the same maths in torch ops, differentiated by autograd.
The torch backend is imported on demand (``import bpttlab.torch``).
"""

from bpttlab import animation, clip, cost, diagnostics, gradcheck, init, metrics, optim, params, plotting, series, tasks, text, video
from bpttlab.gradcheck import directional_check, numerical_gradient, rel_error
from bpttlab.params import MLPGrads, MLPParams, ReadoutGrads, ReadoutParams, RNNGrads, RNNParams

__version__ = "0.1.0"

__all__ = [
    "animation",
    "clip",
    "cost",
    "diagnostics",
    "gradcheck",
    "init",
    "metrics",
    "optim",
    "params",
    "plotting",
    "series",
    "tasks",
    "text",
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
