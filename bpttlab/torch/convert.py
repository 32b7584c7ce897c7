"""Move parameter containers between NumPy and torch, and read autograd gradients."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from bpttlab.params import grads_like


def to_torch(container: NamedTuple, requires_grad: bool = False) -> NamedTuple:
    """Copy every NumPy field of ``container`` into a torch tensor of the same dtype."""
    fields = []
    for name, value in zip(container._fields, container):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
        fields.append(torch.tensor(value, requires_grad=requires_grad))
    return type(container)(*fields)


def to_numpy(container: NamedTuple) -> NamedTuple:
    """Copy every tensor field of ``container`` into a NumPy array."""
    fields = []
    for name, value in zip(container._fields, container):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
        fields.append(value.detach().cpu().numpy().copy())
    return type(container)(*fields)


def grads_of(params: NamedTuple) -> NamedTuple:
    """The ``.grad`` of every field after ``loss.backward()``, as the matching gradient container (NumPy).

    A field that received no gradient raises, rather than being reported as zero.
    """
    values = []
    for name, p in zip(params._fields, params):
        if not isinstance(p, torch.Tensor) or p.grad is None:
            raise ValueError(f"params.{name}: has no gradient; was it created with requires_grad=True and used?")
        values.append(p.grad.detach().cpu().numpy().copy())
    return grads_like(params, values)
