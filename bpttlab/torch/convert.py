"""Move parameter containers between NumPy and torch, and read autograd gradients."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np
import torch

from bpttlab._checks import FLOAT_DTYPES, check_bool
from bpttlab.params import grads_like


def _container(name: str, value: Any) -> None:
    """value: a NamedTuple container (RNNParams, SeqParams, LSTMState, ...)."""
    if not isinstance(value, tuple) or not hasattr(value, "_fields"):
        raise TypeError(f"{name}: expected a NamedTuple of arrays (such as RNNParams), got {type(value).__name__}")


def to_torch(container: NamedTuple, requires_grad: bool = False) -> NamedTuple:
    """Copy every NumPy field of ``container`` into a torch tensor of the same dtype.

    container: a NamedTuple of float32/float64 NumPy arrays (a nested one such as SeqParams
    is converted field by field); requires_grad: True or False.
    """
    _container("container", container)
    requires_grad = check_bool("requires_grad", requires_grad)
    return _to_torch(container, requires_grad, "container")


def _to_torch(container: NamedTuple, requires_grad: bool, prefix: str) -> NamedTuple:
    fields: list[Any] = []  # tensors (arrays) and nested containers
    for name, value in zip(container._fields, container):
        path = f"{prefix}.{name}"
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            fields.append(_to_torch(cast(NamedTuple, value), requires_grad, path))  # a tuple with _fields
            continue
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{path}: expected a numpy.ndarray, got {type(value).__name__}")
        if value.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{path}: expected dtype float32 or float64 (nothing is cast), got {value.dtype}")
        fields.append(torch.tensor(value, requires_grad=requires_grad))
    return type(container)(*fields)


def to_numpy(container: NamedTuple) -> NamedTuple:
    """Copy every tensor field of ``container`` into a NumPy array (nested containers field by field)."""
    _container("container", container)
    return _to_numpy(container, "container")


def _to_numpy(container: NamedTuple, prefix: str) -> NamedTuple:
    fields: list[Any] = []  # tensors (arrays) and nested containers
    for name, value in zip(container._fields, container):
        path = f"{prefix}.{name}"
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            fields.append(_to_numpy(cast(NamedTuple, value), path))  # a tuple with _fields
            continue
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{path}: expected a torch.Tensor, got {type(value).__name__}")
        fields.append(value.detach().cpu().numpy().copy())
    return type(container)(*fields)


def grads_of(params: NamedTuple) -> NamedTuple:
    """The ``.grad`` of every field after ``loss.backward()``, as the matching gradient container (NumPy).

    A field that received no gradient raises, rather than being reported as zero.
    """
    _container("params", params)
    values = []
    for name, p in zip(params._fields, params):
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"params.{name}: expected a torch.Tensor, got {type(p).__name__}")
        if p.grad is None:
            raise ValueError(f"params.{name}: has no gradient; was it created with requires_grad=True and used?")
        values.append(p.grad.detach().cpu().numpy().copy())
    return grads_like(params, values)
