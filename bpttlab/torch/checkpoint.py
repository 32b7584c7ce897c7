"""Checkpointed BPTT in torch: ``torch.utils.checkpoint`` around segments of the recurrence.

``forward`` runs any registry cell over x like the cell's own ``forward``, but each segment of
``segment`` steps (default ceil(sqrt(T))) runs inside ``torch.utils.checkpoint.checkpoint`` with
``use_reentrant=False``: autograd keeps only the segment's inputs (its first state), and the
backward pass re-runs the segment to rebuild its graph. ``loss.backward()`` then gives the same
gradients as plain autograd through the cell's ``forward``. ``saved_bytes`` measures, exactly,
what autograd keeps for the backward pass of a function (tensors saved by the graph).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple, cast

import torch
from torch.utils.checkpoint import checkpoint

from bpttlab import cells
from bpttlab._checks import check_callable, check_cell_inputs, check_finite, check_int

__all__ = ["forward", "saved_bytes"]


def forward(
    x: torch.Tensor, state0: Any, params: Any, segment: int | None = None, **options: Any
) -> tuple[torch.Tensor, Any]:
    """Run the cell over x in checkpointed segments of ``segment`` steps.  x (T, B, D) -> hs (T, B, H), final state.

    The cell is read off the type of ``params``; options: its option (activation, variant).
    """
    spec = cells.of_params(params)
    opt = spec.options(**options)
    check_cell_inputs(spec, x, state0, params, opt, step=False, backend="torch")
    T = x.shape[0]
    c = math.isqrt(T - 1) + 1 if segment is None else check_int("segment", segment, 1)
    step = spec.torch()._step
    # spec.state is a NamedTuple class (CellSpec types it as a plain type)
    n_state = 1 if spec.state is None else len(cast("type[NamedTuple]", spec.state)._fields)
    n_params = len(params)

    def run_segment(x_seg: torch.Tensor, *flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts, p = list(flat[:n_state]), type(params)(*flat[n_state : n_state + n_params])
        state = parts[0] if spec.state is None else spec.state(*parts)
        hs = []
        for t in range(x_seg.shape[0]):
            state = step(x_seg[t], state, p, **opt)
            hs.append(state if spec.state is None else state[0])
        final = [state] if spec.state is None else list(state)
        return (torch.stack(hs), *final)

    state = state0
    out = []
    for s in range(0, T, c):
        parts = [state] if spec.state is None else list(state)
        res = checkpoint(run_segment, x[s : s + c], *parts, *params, use_reentrant=False)
        out.append(res[0])
        state = res[1] if spec.state is None else spec.state(*res[1:])
    hs = torch.cat(out)
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, state


def saved_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` and count the bytes of the tensors autograd saves for the backward pass.

    Returns (fn's result, bytes). A tensor saved twice (the same storage) is counted once.
    """
    check_callable("fn", fn)
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        seen[key] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, sum(seen.values())
