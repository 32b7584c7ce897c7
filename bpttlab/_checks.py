"""Input validation shared by both backends.

Every public function checks its arguments with these helpers so that bad input
fails early with a message naming the argument, what it got and what was expected.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _shape_str(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def check_float_array(name: str, value: Any, dims: Sequence[str]) -> np.ndarray:
    """Check that ``value`` is a floating NumPy array with ``len(dims)`` axes.

    ``dims`` names the axes (for example ``("T", "B", "D")``) and is only used in
    the error message. Returns the array unchanged.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name}: expected a numpy.ndarray of shape {_shape_str(dims)}, "
            f"got {type(value).__name__}"
        )
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name}: expected dtype float32 or float64, got {value.dtype}"
        )
    if value.ndim != len(dims):
        raise ValueError(
            f"{name}: expected {len(dims)} axes {_shape_str(dims)}, "
            f"got {value.ndim} axes with shape {value.shape}"
        )
    if 0 in value.shape:
        raise ValueError(
            f"{name}: every axis of {_shape_str(dims)} must be at least 1, got shape {value.shape}"
        )
    return value


def check_shape(name: str, value: np.ndarray, expected: Sequence[int], dims: Sequence[str]) -> None:
    """Raise ValueError unless ``value.shape == expected``; ``dims`` names the axes."""
    if tuple(value.shape) != tuple(expected):
        raise ValueError(
            f"{name}: expected shape {_shape_str(dims)} = {tuple(expected)}, got {tuple(value.shape)}"
        )


def check_same_dtype(name: str, value: np.ndarray, reference_name: str, dtype: np.dtype) -> None:
    """Raise TypeError unless ``value`` has ``dtype`` (the dtype of ``reference_name``)."""
    if value.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype} (the dtype of {reference_name}), got {value.dtype}; "
            "convert explicitly, nothing is cast silently"
        )


def check_finite(name: str, value: np.ndarray, time_axis: int | None = None) -> None:
    """Raise FloatingPointError if ``value`` holds NaN or inf.

    With ``time_axis`` set, the message names the first time step that holds one.
    """
    if np.all(np.isfinite(value)):
        return
    bad = ~np.isfinite(value)
    if time_axis is not None:
        other = tuple(a for a in range(value.ndim) if a != time_axis)
        step = int(np.argmax(bad.any(axis=other)))
        raise FloatingPointError(f"{name}: non-finite value (NaN or inf) at time step {step}")
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise FloatingPointError(f"{name}: non-finite value (NaN or inf) at index {index}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int >= 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def check_generator(name: str, value: Any) -> np.random.Generator:
    """Return ``value`` if it is a ``numpy.random.Generator``, else raise TypeError."""
    if not isinstance(value, np.random.Generator):
        raise TypeError(
            f"{name}: expected a numpy.random.Generator (for example np.random.default_rng(0)), "
            f"got {type(value).__name__}"
        )
    return value


def check_upstream(name: str, value: Any, like: np.ndarray, dims: Sequence[str]) -> np.ndarray:
    """Check an upstream gradient against the array it is the gradient of: same shape and dtype, finite.

    ``like`` is time-first; a non-finite value is reported with its time step.
    """
    check_float_array(name, value, dims)
    check_shape(name, value, like.shape, dims)
    check_same_dtype(name, value, "the forward pass", like.dtype)
    check_finite(name, value, time_axis=0)
    return value
