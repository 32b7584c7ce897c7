"""The cell contract of bpttlab.cells on the torch backend, written once for every cell.

A torch cell module supplies one pure step, ``step(x_t, state_prev, params, **opts) -> state_t``,
in torch ops. The functions here turn it into the contract the NumPy cells implement by
hand: the forward functions run it (keeping autograd's graph on the caller's tensors, so
``loss.backward()`` works as usual), and the backward functions ask autograd for exactly
the gradients the NumPy backward passes return, by re-running the forward pass on
detached copies of the inputs (so they touch no ``.grad`` of the caller's tensors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from bpttlab._checks import (
    check_cell_inputs,
    check_cell_params,
    check_cell_state,
    check_finite,
    check_int,
    check_params_type,
    check_upstream,
)
from bpttlab.cells import CellSpec

Step = Callable[..., Any]


class StepCache(NamedTuple):
    """What step_backward needs: the cell's name, the inputs of the step, its options and its output state."""

    cell: str
    x_t: torch.Tensor
    state_prev: Any
    params: Any
    options: dict[str, Any]
    state_t: Any


class Cache(NamedTuple):
    """What backward needs: the cell's name, the inputs of the forward pass, the options, hs (T, B, H), the T + 1 states."""

    cell: str
    x: torch.Tensor
    state0: Any
    params: Any
    options: dict[str, Any]
    hs: torch.Tensor
    states: list[Any]


def _parts(spec: CellSpec, state: Any) -> list[torch.Tensor]:
    return [state] if spec.state is None else list(state)


def _state(spec: CellSpec, parts: list[torch.Tensor]) -> Any:
    return parts[0] if spec.state is None else spec.state(*parts)


def _dstate(spec: CellSpec, parts: list[torch.Tensor]) -> Any:
    return parts[0] if spec.state_grads is None else spec.state_grads(*parts)


def _h(spec: CellSpec, state: Any) -> torch.Tensor:
    return state if spec.state is None else state[0]


def check_inputs(spec: CellSpec, x: Any, state: Any, params: Any, options: dict[str, Any], step: bool) -> int:
    """Validate the arguments of a forward function (x (T, B, D) or x_t (B, D)); return H."""
    return check_cell_inputs(spec, x, state, params, options, step, "torch")


def step_forward(spec: CellSpec, step: Step, x_t: Any, state_prev: Any, params: Any, options: dict[str, Any]):
    check_inputs(spec, x_t, state_prev, params, options, step=True)
    state_t = step(x_t, state_prev, params, **options)
    check_finite("h_t", _h(spec, state_t))
    return state_t, StepCache(spec.name, x_t, state_prev, params, dict(options), state_t)


def _check_cache(spec: CellSpec, cache: Any, cls: type) -> None:
    """``cache`` must come from this cell's forward function (not another cell's, not another kind)."""
    check_params_type("cache", cache, cls)
    if cache.cell != spec.name:
        raise TypeError(
            f"cache: expected the cache of bpttlab.torch.{spec.name}'s forward pass, got that of {cache.cell!r}"
        )


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().requires_grad_(True)


def _grad(
    outputs: list[torch.Tensor], inputs: list[torch.Tensor], grad_outputs: list[torch.Tensor]
) -> list[torch.Tensor]:
    gs = torch.autograd.grad(outputs, inputs, grad_outputs=grad_outputs, allow_unused=True)
    return [torch.zeros_like(i) if g is None else g for g, i in zip(gs, inputs)]


def step_backward(spec: CellSpec, step: Step, dstate_t: Any, cache: Any):
    _check_cache(spec, cache, StepCache)
    B, H = _h(spec, cache.state_t).shape
    name = "dstate_t" if spec.state_grads else "dh_t"
    check_cell_state(spec, name, dstate_t, B, H, cache.x_t.dtype, "torch", grads=spec.state_grads is not None)
    x_t = _leaf(cache.x_t)
    prev = [_leaf(p) for p in _parts(spec, cache.state_prev)]
    params = type(cache.params)(*(_leaf(p) for p in cache.params))
    with torch.enable_grad():
        out = _parts(spec, step(x_t, _state(spec, prev), params, **cache.options))
    g = _grad(out, [x_t, *prev, *params], _parts(spec, dstate_t))
    n = len(prev)
    return g[0], _dstate(spec, g[1 : 1 + n]), spec.grads(*g[1 + n :])


def run(spec: CellSpec, step: Step, x: torch.Tensor, state0: Any, params: Any, options: dict[str, Any]) -> list[Any]:
    """The T + 1 states of the recurrence from state0 (no checks)."""
    out = [state0]
    for t in range(x.shape[0]):
        out.append(step(x[t], out[-1], params, **options))
    return out


def forward(spec: CellSpec, step: Step, x: Any, state0: Any, params: Any, options: dict[str, Any]):
    check_inputs(spec, x, state0, params, options, step=False)
    sts = run(spec, step, x, state0, params, options)
    hs = torch.stack([_h(spec, s) for s in sts[1:]])
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, Cache(spec.name, x, state0, params, dict(options), hs, sts)


def states(spec: CellSpec, step: Step, x: Any, state0: Any, params: Any, options: dict[str, Any]) -> list[Any]:
    return forward(spec, step, x, state0, params, options)[1].states


def _replay(spec: CellSpec, step: Step, cache: Cache):
    """Re-run the forward pass of ``cache`` on detached leaves: (x, state0 parts, params, states)."""
    x = _leaf(cache.x)
    s0 = [_leaf(p) for p in _parts(spec, cache.state0)]
    params = type(cache.params)(*(_leaf(p) for p in cache.params))
    with torch.enable_grad():
        sts = run(spec, step, x, _state(spec, s0), params, cache.options)
    return x, s0, params, sts


def backward(spec: CellSpec, step: Step, dhs: Any, cache: Any):
    _check_cache(spec, cache, Cache)
    check_upstream("dhs", dhs, cache.hs, ("T", "B", "H"), "torch")
    x, s0, params, sts = _replay(spec, step, cache)
    hs = torch.stack([_h(spec, s) for s in sts[1:]])
    g = _grad([hs], [x, *s0, *params], [dhs])
    n = len(s0)
    check_finite("dh (gradient flowing back)", g[0], time_axis=0)
    return g[0], _dstate(spec, g[1 : 1 + n]), spec.grads(*g[1 + n :])


def state_grads(spec: CellSpec, step: Step, dhs: Any, cache: Any) -> torch.Tensor:
    _check_cache(spec, cache, Cache)
    check_upstream("dhs", dhs, cache.hs, ("T", "B", "H"), "torch")
    _, _, _, sts = _replay(spec, step, cache)
    h_list = [_h(spec, s) for s in sts[1:]]
    return torch.stack(_grad([torch.stack(h_list)], h_list, [dhs]))


def state_at(spec: CellSpec, cache: Any, t: Any) -> Any:
    _check_cache(spec, cache, Cache)
    t = check_int("t", t, 0, cache.x.shape[0])
    return cache.states[t]


def zero_state(spec: CellSpec, params: Any, B: Any) -> Any:
    check_params_type("params", params, spec.params)
    H = check_cell_params(spec, params, None, None, "torch")
    B = check_int("B", B, 1)
    ref = getattr(params, next(iter(spec.fields)))
    parts = [ref.new_zeros((B, H)) for _ in spec.state_names]
    return _state(spec, parts)
