"""Named containers for parameters and gradients, shared by both backends.

Field names follow the maths of the lessons. A gradient container has the same
fields with a ``d`` in front. The containers hold NumPy arrays in
``bpttlab.numpy`` and tensors in ``bpttlab.torch``.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class RNNParams(NamedTuple):
    """Vanilla RNN: h_t = f(W_xh x_t + W_hh h_{t-1} + b_h). Shapes (H, D), (H, H), (H,)."""

    W_xh: Any
    W_hh: Any
    b_h: Any


class RNNGrads(NamedTuple):
    """Gradients of a scalar loss with respect to the fields of RNNParams."""

    dW_xh: Any
    dW_hh: Any
    db_h: Any


class ReadoutParams(NamedTuple):
    """Per-step linear readout: y_t = W_hy h_t + b_y. Shapes (O, H), (O,)."""

    W_hy: Any
    b_y: Any


class ReadoutGrads(NamedTuple):
    """Gradients with respect to the fields of ReadoutParams."""

    dW_hy: Any
    db_y: Any


class MLPParams(NamedTuple):
    """Two-layer perceptron: y = W_2 f(W_1 x + b_1) + b_2. Shapes (H, D), (H,), (O, H), (O,)."""

    W_1: Any
    b_1: Any
    W_2: Any
    b_2: Any


class MLPGrads(NamedTuple):
    """Gradients with respect to the fields of MLPParams."""

    dW_1: Any
    db_1: Any
    dW_2: Any
    db_2: Any


GRADS_OF = {RNNParams: RNNGrads, ReadoutParams: ReadoutGrads, MLPParams: MLPGrads}


def grads_like(params: NamedTuple, values: Any) -> NamedTuple:
    """Wrap ``values`` (one per field of ``params``) in the matching gradient container."""
    cls = GRADS_OF.get(type(params))
    if cls is None:
        raise TypeError(f"params: no gradient container for {type(params).__name__}")
    return cls(*values)


def check_params_type(name: str, params: Any, cls: type) -> None:
    """Raise TypeError unless ``params`` is an instance of ``cls``."""
    if not isinstance(params, cls):
        raise TypeError(f"{name}: expected {cls.__name__}, got {type(params).__name__}")
