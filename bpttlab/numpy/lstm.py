"""LSTM, forward and backward through time written by hand in NumPy.

    a_t = W_x x_t + W_h h_{t-1} + b          (4H pre-activations, blocks [i, f, g, o] as in torch.nn.LSTM)
    i_t, f_t, o_t = sigmoid(a_t blocks),  g_t = tanh(a_t block)
    c_t = f_t * c_{t-1} + i_t * g_t          (the cell state: an additive path through time)
    h_t = o_t * tanh(c_t)

Shapes are time-first: x (T, B, D), state0 = LSTMState(h0, c0) with each (B, H), hs (T, B, H).
The step functions are the textbook pair; the sequence functions hoist the input
projection out of the loop and form the weight gradients with one product over all steps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab._checks import check_finite, check_float_array, check_shape, check_upstream
from bpttlab.params import LSTMGrads, LSTMParams, LSTMState
from bpttlab.numpy._cellcheck import check_gated_params, check_hidden, check_input, sigmoid

GATES = 4


def check_params(params: LSTMParams, D: int | None = None, dtype: np.dtype | None = None) -> int:
    """Validate LSTMParams; return H."""
    return check_gated_params(params, LSTMParams, GATES, D, dtype)


def _check_state(name: str, state: LSTMState, B: int, H: int, dtype: np.dtype) -> None:
    if not isinstance(state, LSTMState):
        raise TypeError(f"{name}: expected LSTMState(h, c), got {type(state).__name__}")
    check_hidden(f"{name}.h", state.h, B, H, dtype)
    check_hidden(f"{name}.c", state.c, B, H, dtype)


def _gates(a: np.ndarray) -> np.ndarray:
    """Activated gates [i, f, g, o] from pre-activations a (..., 4H)."""
    H = a.shape[-1] // GATES
    out = sigmoid(a)
    out[..., 2 * H : 3 * H] = np.tanh(a[..., 2 * H : 3 * H])
    return out


def _step_backward_core(dh, dc_next, gates, c_prev, c_t, W_h):
    """One step back: returns (da (B, 4H), dh_prev from the recurrence, dc_prev)."""
    H = c_t.shape[-1]
    i, f, g, o = (gates[..., k * H : (k + 1) * H] for k in range(GATES))
    tc = np.tanh(c_t)
    dc = dc_next + dh * o * (1.0 - tc**2)
    da = np.concatenate(
        [dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f), dc * i * (1.0 - g**2), dh * tc * o * (1.0 - o)],
        axis=-1,
    )
    return da, da @ W_h, dc * f


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
    check_input(x_t, ("B", "D"), "x_t")
    B, D = x_t.shape
    H = check_params(params, D, x_t.dtype)
    _check_state("state_prev", state_prev, B, H, x_t.dtype)
    gates = _gates(x_t @ params.W_x.T + state_prev.h @ params.W_h.T + params.b)
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(GATES))
    c_t = f * state_prev.c + i * g
    h_t = o * np.tanh(c_t)
    return LSTMState(h_t, c_t), StepCache(x_t, state_prev.h, state_prev.c, gates, c_t, params)


def step_backward(dstate: LSTMState, cache: StepCache) -> tuple[np.ndarray, LSTMState, LSTMGrads]:
    """Gradients of one step.  dstate = (dh_t, dc_t) each (B, H) -> dx_t, LSTMState(dh_prev, dc_prev), grads."""
    if not isinstance(dstate, LSTMState):
        raise TypeError(f"dstate: expected LSTMState(dh, dc), got {type(dstate).__name__}")
    for name, v in (("dstate.h", dstate.h), ("dstate.c", dstate.c)):
        check_float_array(name, v, ("B", "H"))
        check_shape(name, v, cache.c_t.shape, ("B", "H"))
        check_finite(name, v)
    p = cache.params
    da, dh_prev, dc_prev = _step_backward_core(dstate.h, dstate.c, cache.gates, cache.c_prev, cache.c_t, p.W_h)
    grads = LSTMGrads(da.T @ cache.x_t, da.T @ cache.h_prev, da.sum(axis=0))
    return da @ p.W_x, LSTMState(dh_prev, dc_prev), grads


# ----------------------------------------------------------------- a sequence


class LSTMCache(NamedTuple):
    x: np.ndarray
    state0: LSTMState
    hs: np.ndarray
    cs: np.ndarray
    gates: np.ndarray
    params: LSTMParams


def forward(x: np.ndarray, state0: LSTMState, params: LSTMParams) -> tuple[np.ndarray, LSTMCache]:
    """Run the LSTM over all steps.  x (T, B, D), state0 (h0, c0) -> hs (T, B, H), cache."""
    check_input(x, ("T", "B", "D"))
    T, B, D = x.shape
    H = check_params(params, D, x.dtype)
    _check_state("state0", state0, B, H, x.dtype)
    u = x @ params.W_x.T + params.b  # input projection of every step at once
    hs = np.empty((T, B, H), dtype=x.dtype)
    cs = np.empty((T, B, H), dtype=x.dtype)
    gates = np.empty((T, B, GATES * H), dtype=x.dtype)
    h, c = state0
    W_h_T = params.W_h.T
    for t in range(T):
        gt = _gates(u[t] + h @ W_h_T)
        c = gt[:, H : 2 * H] * c + gt[:, :H] * gt[:, 2 * H : 3 * H]
        h = gt[:, 3 * H :] * np.tanh(c)
        gates[t], cs[t], hs[t] = gt, c, h
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, LSTMCache(x, state0, hs, cs, gates, params)


def _backward(dhs: np.ndarray, cache: LSTMCache):
    x, hs, p = cache.x, cache.hs, cache.params
    check_upstream("dhs", dhs, hs, ("T", "B", "H"))
    T = x.shape[0]
    das = np.empty(cache.gates.shape, dtype=hs.dtype)
    gs = np.empty_like(hs)
    dh_next = np.zeros_like(cache.state0.h)
    dc_next = np.zeros_like(cache.state0.c)
    for t in range(T - 1, -1, -1):
        c_prev = cache.state0.c if t == 0 else cache.cs[t - 1]
        gs[t] = dhs[t] + dh_next
        das[t], dh_next, dc_next = _step_backward_core(gs[t], dc_next, cache.gates[t], c_prev, cache.cs[t], p.W_h)
    check_finite("da (gradient flowing back)", das, time_axis=0)
    return das, LSTMState(dh_next, dc_next), gs


def backward(dhs: np.ndarray, cache: LSTMCache) -> tuple[np.ndarray, LSTMState, LSTMGrads]:
    """Full BPTT.  dhs (T, B, H) -> dx (T, B, D), LSTMState(dh0, dc0), LSTMGrads."""
    das, dstate0, _ = _backward(dhs, cache)
    x, hs, p = cache.x, cache.hs, cache.params
    h_prev = np.concatenate([cache.state0.h[None], hs[:-1]], axis=0)
    G, D = p.W_x.shape
    H = p.W_h.shape[1]
    da2 = das.reshape(-1, G)
    grads = LSTMGrads(da2.T @ x.reshape(-1, D), da2.T @ h_prev.reshape(-1, H), da2.sum(axis=0))
    return das @ p.W_x, dstate0, grads


def state_grads(dhs: np.ndarray, cache: LSTMCache) -> np.ndarray:
    """Total gradients dL/dh_t (direct plus through later steps).  dhs (T, B, H) -> (T, B, H)."""
    return _backward(dhs, cache)[2]


def state_at(cache: LSTMCache, t: int) -> LSTMState:
    """The state after t steps of the forward pass (t = 0 gives state0)."""
    T = cache.x.shape[0]
    if not 0 <= t <= T:
        raise ValueError(f"t: expected a step count in [0, {T}], got {t}")
    return cache.state0 if t == 0 else LSTMState(cache.hs[t - 1], cache.cs[t - 1])


def zero_state(params: LSTMParams, B: int) -> LSTMState:
    """All-zero (h0, c0), each (B, H), in the dtype of the parameters."""
    H = check_params(params)
    zeros = np.zeros((B, H), dtype=params.W_h.dtype)
    return LSTMState(zeros, zeros.copy())
