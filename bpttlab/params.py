"""Named containers for parameters and gradients, shared by both backends.

Field names follow the maths of the lessons. A gradient container has the same
fields with a ``d`` in front. The containers hold NumPy arrays in
``bpttlab.numpy`` and tensors in ``bpttlab.torch``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bpttlab._checks import check_params_type  # noqa: F401  (re-exported: older imports use this path)


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


class AttentionParams(NamedTuple):
    """W_xe (H, D), b_e (H,): input projection; W_q, W_k, W_v, W_o (H, H): query, key, value and output
    maps; W_hy (O, H), b_y (O,): the per-step readout."""

    W_xe: Any
    b_e: Any
    W_q: Any
    W_k: Any
    W_v: Any
    W_o: Any
    W_hy: Any
    b_y: Any


class AttentionGrads(NamedTuple):
    """Gradients of a scalar loss with respect to the fields of AttentionParams."""

    dW_xe: Any
    db_e: Any
    dW_q: Any
    dW_k: Any
    dW_v: Any
    dW_o: Any
    dW_hy: Any
    db_y: Any


# The axes of every field of AttentionParams, named as in the maths (checked on both backends).
ATTENTION_DIMS = {
    "W_xe": ("H", "D"),
    "b_e": ("H",),
    "W_q": ("H", "H"),
    "W_k": ("H", "H"),
    "W_v": ("H", "H"),
    "W_o": ("H", "H"),
    "W_hy": ("O", "H"),
    "b_y": ("O",),
}


GRADS_OF: dict[type, type[NamedTuple]] = {
    RNNParams: RNNGrads,
    ReadoutParams: ReadoutGrads,
    MLPParams: MLPGrads,
    AttentionParams: AttentionGrads,
}


def grads_like(params: NamedTuple, values: Any) -> NamedTuple:
    """Wrap ``values`` (one per field of ``params``) in the matching gradient container."""
    cls = GRADS_OF.get(type(params))
    if cls is None:
        raise TypeError(f"params: no gradient container for {type(params).__name__}")
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"values: expected a list of {len(cls._fields)} gradients, got {type(values).__name__}")
    if len(values) != len(cls._fields):
        raise ValueError(f"values: expected one gradient per field {list(cls._fields)}, got {len(values)}")
    return cls(*values)


class LSTMParams(NamedTuple):
    """LSTM, gate blocks stacked in torch's order [i, f, g, o]: W_x (4H, D), W_h (4H, H), b (4H,).

    a_t = W_x x_t + W_h h_{t-1} + b; i, f, o = sigmoid of their blocks, g = tanh of its block;
    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t).
    """

    W_x: Any
    W_h: Any
    b: Any


class LSTMGrads(NamedTuple):
    """Gradients with respect to the fields of LSTMParams."""

    dW_x: Any
    dW_h: Any
    db: Any


class LSTMState(NamedTuple):
    """The LSTM's state: hidden h (B, H) and cell c (B, H)."""

    h: Any
    c: Any


class LSTMStateGrads(NamedTuple):
    """Gradients of a scalar loss with respect to an LSTMState: dh (B, H) and dc (B, H)."""

    dh: Any
    dc: Any


class GRUParams(NamedTuple):
    """GRU, gate blocks stacked in torch's order [r, z, n]: W_x (3H, D), W_h (3H, H), b_x (3H,), b_hh (3H,).

    Two bias vectors, as in torch: b_x joins the input product W_x x_t, b_hh the recurrent
    product W_h h_{t-1}; b_hh's n-block sits inside the reset gate's product.
    """

    W_x: Any
    W_h: Any
    b_x: Any
    b_hh: Any


class GRUGrads(NamedTuple):
    """Gradients with respect to the fields of GRUParams."""

    dW_x: Any
    dW_h: Any
    db_x: Any
    db_hh: Any


GRADS_OF.update({LSTMParams: LSTMGrads, GRUParams: GRUGrads})


def param_count(params: NamedTuple) -> int:
    """Number of scalar parameters in a (nested) container of arrays or tensors."""
    from bpttlab.tree import paths, size

    if not isinstance(params, (tuple, list)) and not hasattr(params, "shape"):
        raise TypeError(f"params: expected a container of arrays or tensors, got {type(params).__name__}")
    for path, leaf in paths(params, "params"):
        if not hasattr(leaf, "shape"):
            raise TypeError(f"{path}: expected arrays or tensors at the leaves, got {type(leaf).__name__}")
    return size(params)


def cell_param_count(cell: str, D: int, H: int, biases: int | None = None) -> int:
    """Parameters of one recurrent layer with input size D and hidden size H (from bpttlab.cells).

    gates * H * (D + H + biases): gates is 1 (rnn), 4 (lstm) or 3 (gru); ``biases`` is
    the number of bias vectors per gate block: bpttlab uses 1 for rnn and lstm and 2
    for gru; torch.nn uses 2 for all three. Default: bpttlab's.
    """
    from bpttlab import cells
    from bpttlab._checks import check_int, check_optional, check_positive_int

    spec = cells.get(cell)
    D, H = check_positive_int("D", D), check_positive_int("H", H)
    biases = check_optional(check_int, "biases", biases, 1, 2)
    return spec.param_count(D, H, biases)
