"""LSTM, forward and backward through time written by hand in NumPy.

    a_t = W_x x_t + W_h h_{t-1} + b          (4H pre-activations, blocks [i, f, g, o] as in torch.nn.LSTM)
    i_t, f_t, o_t = sigmoid(a_t blocks),  g_t = tanh(a_t block)
    c_t = f_t * c_{t-1} + i_t * g_t          (the cell state: an additive path through time)
    h_t = o_t * tanh(c_t)

Shapes are time-first: x (T, B, D), state0 = LSTMState(h0, c0) with each (B, H), hs (T, B, H).
The step functions are the textbook pair; the sequence functions hoist the input
projection out of the loop and form the weight gradients with one product per block of
steps (``bpttlab.numpy._bptt``, shared with checkpointed BPTT).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_cell_inputs,
    check_cell_params,
    check_cell_state,
    check_finite,
    check_int,
    check_params_type,
    check_upstream,
)
from bpttlab.numpy import _bptt
from bpttlab.numpy.activations import sigmoid, sigmoid_grad, tanh_grad
from bpttlab.params import LSTMGrads, LSTMParams, LSTMState, LSTMStateGrads

SPEC = cells.CELLS["lstm"]
GATES = SPEC.gates


def check_params(params: LSTMParams, D: int | None = None, dtype: np.dtype | None = None) -> int:
    """Validate LSTMParams; return H."""
    return check_cell_params(SPEC, params, D, dtype)


def _check_inputs(x: np.ndarray, state: LSTMState, params: LSTMParams, step: bool) -> int:
    return check_cell_inputs(SPEC, x, state, params, {}, step)


def _gates(a: np.ndarray) -> np.ndarray:
    """Activated gates [i, f, g, o] from pre-activations a (..., 4H)."""
    H = a.shape[-1] // GATES
    out = sigmoid(a)
    out[..., 2 * H : 3 * H] = np.tanh(a[..., 2 * H : 3 * H])
    return out


# Lessons print this function (inspect.getsource): it keeps their 76-character column.
# fmt: off
def _step_backward_core(dh, dc_next, gates, c_prev, c_t, W_h):
    """One step back.

    Returns (da (B, 4H), dh_prev from the recurrence, dc_prev).
    """
    H = c_t.shape[-1]
    i, f, g, o = (gates[..., k * H : (k + 1) * H] for k in range(GATES))
    tc = np.tanh(c_t)
    dc = dc_next + dh * o * tanh_grad(tc)
    da = np.concatenate(
        [
            dc * g * sigmoid_grad(i),
            dc * c_prev * sigmoid_grad(f),
            dc * i * tanh_grad(g),
            dh * tc * sigmoid_grad(o),
        ],
        axis=-1,
    )
    return da, da @ W_h, dc * f
# fmt: on


# ----------------------------------------------------------------- one step


class StepCache(NamedTuple):
    x_t: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    gates: np.ndarray
    c_t: np.ndarray
    params: LSTMParams


def step_forward(x_t: np.ndarray, state_prev: LSTMState, params: LSTMParams) -> tuple[LSTMState, StepCache]:
    """One LSTM step.  x_t (B, D), state_prev (h, c) each (B, H) -> LSTMState(h_t, c_t), cache."""
    H = _check_inputs(x_t, state_prev, params, step=True)
    gates = _gates(x_t @ params.W_x.T + state_prev.h @ params.W_h.T + params.b)
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(GATES))
    c_t = f * state_prev.c + i * g
    h_t = o * np.tanh(c_t)
    return LSTMState(h_t, c_t), StepCache(x_t, state_prev.h, state_prev.c, gates, c_t, params)


def step_backward(dstate_t: LSTMStateGrads, cache: StepCache) -> tuple[np.ndarray, LSTMStateGrads, LSTMGrads]:
    """Gradients of one step.  dstate_t = (dh_t, dc_t) each (B, H) -> dx_t, LSTMStateGrads(dh_prev, dc_prev), grads."""
    check_params_type("cache", cache, StepCache)
    B, H = cache.c_t.shape
    check_cell_state(SPEC, "dstate_t", dstate_t, B, H, cache.c_t.dtype, grads=True)
    p = cache.params
    da, dh_prev, dc_prev = _step_backward_core(dstate_t.dh, dstate_t.dc, cache.gates, cache.c_prev, cache.c_t, p.W_h)
    grads = LSTMGrads(da.T @ cache.x_t, da.T @ cache.h_prev, da.sum(axis=0))
    return da @ p.W_x, LSTMStateGrads(dh_prev, dc_prev), grads


# ----------------------------------------------------------------- a sequence


class LSTMCache(NamedTuple):
    x: np.ndarray
    state0: LSTMState
    hs: np.ndarray
    cs: np.ndarray
    gates: np.ndarray
    params: LSTMParams


def _project(x_blk, p, opt):
    return x_blk @ p.W_x.T + p.b


def _step(u_t, state, p, opt):
    H = state.h.shape[-1]
    gt = _gates(u_t + state.h @ p.W_h.T)
    c = gt[:, H : 2 * H] * state.c + gt[:, :H] * gt[:, 2 * H : 3 * H]
    h = gt[:, 3 * H :] * np.tanh(c)
    return LSTMState(h, c), (h, c, gt)


def _back_step(g, dc_next, rec, state_prev, p, opt):
    _, c_t, gates = rec
    da, dh_prev, dc_prev = _step_backward_core(g, dc_next, gates, state_prev.c, c_t, p.W_h)
    return (da,), dh_prev, dc_prev


def _block_grads(parts, x_blk, hprev_blk, p, opt):
    G, D = p.W_x.shape
    H = p.W_h.shape[1]
    da2 = parts[0].reshape(-1, G)
    return LSTMGrads(da2.T @ x_blk.reshape(-1, D), da2.T @ hprev_blk.reshape(-1, H), da2.sum(axis=0))


KERNEL = _bptt.Kernel(
    project=_project,
    step=_step,
    state_of=lambda rec: LSTMState(rec[0], rec[1]),
    hidden=lambda state: state.h,
    back_step=_back_step,
    zero_carry=lambda state0: np.zeros_like(state0.c),
    state_grad=lambda dh, dc: LSTMStateGrads(dh, dc),
    block_grads=_block_grads,
    dx_block=lambda parts, p: parts[0] @ p.W_x,
    record_widths=lambda H: (H, H, GATES * H),
    part_widths=lambda H, opt: (GATES * H,),
)


def forward(x: np.ndarray, state0: LSTMState, params: LSTMParams) -> tuple[np.ndarray, LSTMCache]:
    """Run the LSTM over all steps.  x (T, B, D), state0 (h0, c0) -> hs (T, B, H), cache."""
    _check_inputs(x, state0, params, step=False)
    hs, cs, gates = _bptt.forward(KERNEL, x, state0, params, {})
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, LSTMCache(x, state0, hs, cs, gates, params)


def _backward(dhs: np.ndarray, cache: LSTMCache, keep_gs: bool):
    check_params_type("cache", cache, LSTMCache)
    check_upstream("dhs", dhs, cache.hs, ("T", "B", "H"))
    records = (cache.hs, cache.cs, cache.gates)
    return _bptt.backward(KERNEL, dhs, cache.x, cache.state0, records, cache.params, {}, keep_gs)


def backward(dhs: np.ndarray, cache: LSTMCache) -> tuple[np.ndarray, LSTMStateGrads, LSTMGrads]:
    """Full BPTT.  dhs (T, B, H) -> dx (T, B, D), LSTMStateGrads(dh0, dc0), LSTMGrads.

    The weight gradients are one product per block of steps (bpttlab.numpy._bptt).
    """
    return _backward(dhs, cache, keep_gs=False)[1]


def state_grads(dhs: np.ndarray, cache: LSTMCache) -> np.ndarray:
    """Total gradients dL/dh_t (direct plus through later steps).  dhs (T, B, H) -> (T, B, H)."""
    return _backward(dhs, cache, keep_gs=True)[0].gs


def state_at(cache: LSTMCache, t: int) -> LSTMState:
    """The state after t steps of the forward pass (t = 0 gives state0)."""
    check_params_type("cache", cache, LSTMCache)
    t = check_int("t", t, 0, cache.x.shape[0])
    return cache.state0 if t == 0 else LSTMState(cache.hs[t - 1], cache.cs[t - 1])


def zero_state(params: LSTMParams, B: int) -> LSTMState:
    """All-zero (h0, c0), each (B, H), in the dtype of the parameters."""
    H = check_params(params)
    B = check_int("B", B, 1)
    zeros = np.zeros((B, H), dtype=params.W_h.dtype)
    return LSTMState(zeros, zeros.copy())


def states(x: np.ndarray, state0: LSTMState, params: LSTMParams) -> list[LSTMState]:
    """The state after t steps for t = 0..T (state0 first)."""
    _, cache = forward(x, state0, params)
    return [state_at(cache, t) for t in range(x.shape[0] + 1)]


Cache = LSTMCache  # the registry-wide name of this cell's sequence cache
