"""Validation shared by the torch twins of the gated cells."""

from __future__ import annotations

from typing import Any

import torch

from bpttlab.params import check_params_type
from bpttlab.torch._checks import check_dtype, check_shape, check_tensor


def check_gated_params(params: Any, cls: type, gates: int, D: int, dtype: torch.dtype) -> int:
    """Check stacked gate weights W_x (G*H, D), W_h (G*H, H) and biases (G*H,) of tensors; return H."""
    check_params_type("params", params, cls)
    check_tensor("params.W_h", params.W_h, (f"{gates}H", "H"))
    H = params.W_h.shape[1]
    check_shape("params.W_h", params.W_h, (gates * H, H))
    check_tensor("params.W_x", params.W_x, (f"{gates}H", "D"))
    check_shape("params.W_x", params.W_x, (gates * H, D))
    for field in cls._fields:
        value = getattr(params, field)
        if field.startswith("b"):
            check_tensor(f"params.{field}", value, (f"{gates}H",))
            check_shape(f"params.{field}", value, (gates * H,))
        check_dtype(f"params.{field}", value, "x", dtype)
    return H


def check_sequence_input(x: Any, h0: Any, params: Any, cls: type, gates: int, h0_name: str = "h0") -> int:
    """Check x (T, B, D) and h0 (B, H) against the parameters; return H. ``h0_name`` names h0 in errors."""
    check_tensor("x", x, ("T", "B", "D"), time_axis=0)
    T, B, D = x.shape
    H = check_gated_params(params, cls, gates, D, x.dtype)
    check_tensor(h0_name, h0, ("B", "H"))
    check_shape(h0_name, h0, (B, H))
    check_dtype(h0_name, h0, "x", x.dtype)
    return H
