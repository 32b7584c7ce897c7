"""Input validation for the torch backend (mirrors bpttlab._checks)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_tensor(name: str, value: Any, dims: Sequence[str], time_axis: int | None = None) -> torch.Tensor:
    """Check that ``value`` is a floating tensor with ``len(dims)`` non-empty axes, all finite.

    With ``time_axis`` set, a non-finite value is reported with the first time step that holds one.
    """
    shape_str = "(" + ", ".join(dims) + ")"
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape {shape_str}, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype torch.float32 or torch.float64, got {value.dtype}")
    if value.dim() != len(dims):
        raise ValueError(
            f"{name}: expected {len(dims)} axes {shape_str}, got {value.dim()} axes with shape {tuple(value.shape)}"
        )
    if 0 in value.shape:
        raise ValueError(f"{name}: every axis of {shape_str} must be at least 1, got shape {tuple(value.shape)}")
    finite = torch.isfinite(value.detach())
    if not bool(finite.all()):
        if time_axis is not None:
            step = int((~finite).movedim(time_axis, 0).reshape(value.shape[time_axis], -1).any(dim=1).nonzero()[0, 0])
            raise FloatingPointError(f"{name}: non-finite value (NaN or inf) at time step {step}")
        raise FloatingPointError(f"{name}: non-finite value (NaN or inf)")
    return value


def check_shape(name: str, value: torch.Tensor, expected: Sequence[int]) -> None:
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {tuple(value.shape)}")


def check_dtype(name: str, value: torch.Tensor, reference_name: str, dtype: torch.dtype) -> None:
    if value.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype} (the dtype of {reference_name}), got {value.dtype}; "
            "convert explicitly, nothing is cast silently"
        )
