"""Validation shared by the gated cells (LSTM, GRU) of the NumPy backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from bpttlab._checks import check_finite, check_float_array, check_same_dtype, check_shape
from bpttlab.params import check_params_type


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)), computed as (1 + tanh(a / 2)) / 2, which cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def check_gated_params(params: Any, cls: type, gates: int, D: int | None, dtype: np.dtype | None) -> int:
    """Check stacked gate weights W_x (G*H, D), W_h (G*H, H) and every bias (G*H,); return H."""
    check_params_type("params", params, cls)
    W_h = check_float_array("params.W_h", params.W_h, (f"{gates}H", "H"))
    H = W_h.shape[1]
    check_shape("params.W_h", W_h, (gates * H, H), (f"{gates}H", "H"))
    W_x = check_float_array("params.W_x", params.W_x, (f"{gates}H", "D"))
    if W_x.shape[0] != gates * H:
        raise ValueError(f"params.W_x: expected {gates}H = {gates * H} rows (from W_h), got shape {W_x.shape}")
    if D is not None and W_x.shape[1] != D:
        raise ValueError(f"params.W_x: expected shape ({gates}H, D) with D = {D} (from x), got {W_x.shape}")
    dtype = W_h.dtype if dtype is None else dtype
    for field in cls._fields:
        value = getattr(params, field)
        if field.startswith("b"):
            check_float_array(f"params.{field}", value, (f"{gates}H",))
            check_shape(f"params.{field}", value, (gates * H,), (f"{gates}H",))
        check_same_dtype(f"params.{field}", value, "x", dtype)
        check_finite(f"params.{field}", value)
    return H


def check_input(x: np.ndarray, dims: tuple[str, ...], name: str = "x") -> np.ndarray:
    check_float_array(name, x, dims)
    check_finite(name, x, time_axis=0 if len(dims) == 3 else None)
    return x


def check_hidden(name: str, h: np.ndarray, B: int, H: int, dtype: np.dtype) -> None:
    check_float_array(name, h, ("B", "H"))
    check_shape(name, h, (B, H), ("B", "H"))
    check_same_dtype(name, h, "x", dtype)
    check_finite(name, h)
