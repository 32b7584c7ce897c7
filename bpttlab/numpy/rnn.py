"""Vanilla RNN, forward and backward through time written by hand in NumPy.

    a_t = W_xh x_t + W_hh h_{t-1} + b_h,   h_t = f(a_t),   f in {tanh, relu, linear}

Shapes are time-first: x (T, B, D), h0 (B, H), hs (T, B, H). Weights follow the
maths: W_xh (H, D), W_hh (H, H), b_h (H,), so a batch computes x_t W_xh^T.

The step functions are the textbook pair. The sequence functions loop the same
recurrence over time but take the time-independent products out of the loop:
the input projection and the weight gradients are one matrix product per block
of steps (``bpttlab.numpy._bptt``, shared with checkpointed BPTT).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_cell_inputs,
    check_cell_params,
    check_finite,
    check_float_array,
    check_int,
    check_params_type,
    check_readout_params,
    check_same_dtype,
    check_shape,
    check_upstream,
    leading_dims,
)
from bpttlab.numpy import _bptt, layers
from bpttlab.numpy.activations import activate as _act
from bpttlab.numpy.activations import activation_grad as _act_grad
from bpttlab.params import ReadoutGrads, ReadoutParams, RNNGrads, RNNParams

SPEC = cells.CELLS["rnn"]
ACTIVATIONS = SPEC.choices


def check_params(params: RNNParams, D: int | None = None, dtype: np.dtype | None = None) -> int:
    """Validate RNNParams (shapes, dtypes, finiteness); return the hidden size H."""
    return check_cell_params(SPEC, params, D, dtype)


def _check_inputs(x: np.ndarray, h: np.ndarray, params: RNNParams, activation: str, step: bool) -> int:
    return check_cell_inputs(SPEC, x, h, params, {"activation": activation}, step)


# ----------------------------------------------------------------- one step


class StepCache(NamedTuple):
    x_t: np.ndarray
    h_prev: np.ndarray
    h_t: np.ndarray
    params: RNNParams
    activation: str


def step_forward(
    x_t: np.ndarray, h_prev: np.ndarray, params: RNNParams, activation: str = "tanh"
) -> tuple[np.ndarray, StepCache]:
    """h_t = f(W_xh x_t + W_hh h_prev + b_h).  x_t (B, D), h_prev (B, H) -> h_t (B, H)."""
    _check_inputs(x_t, h_prev, params, activation, step=True)
    a = x_t @ params.W_xh.T + h_prev @ params.W_hh.T + params.b_h
    h_t = _act(a, activation)
    check_finite("h_t", h_t)
    return h_t, StepCache(x_t, h_prev, h_t, params, activation)


def step_backward(dh_t: np.ndarray, cache: StepCache) -> tuple[np.ndarray, np.ndarray, RNNGrads]:
    """Gradients of one step.  dh_t (B, H) -> dx_t (B, D), dh_prev (B, H), RNNGrads."""
    check_params_type("cache", cache, StepCache)
    check_upstream("dh_t", dh_t, cache.h_t, ("B", "H"))
    da = dh_t * _act_grad(cache.h_t, cache.activation)
    p = cache.params
    grads = RNNGrads(da.T @ cache.x_t, da.T @ cache.h_prev, da.sum(axis=0))
    return da @ p.W_xh, da @ p.W_hh, grads


# ----------------------------------------------------------------- a sequence


class RNNCache(NamedTuple):
    x: np.ndarray
    h0: np.ndarray
    hs: np.ndarray
    params: RNNParams
    activation: str


def _project(x_blk, p, opt):
    return x_blk @ p.W_xh.T + p.b_h


def _step(u_t, h, p, opt):
    h_t = _act(u_t + h @ p.W_hh.T, opt["activation"])
    return h_t, (h_t,)


def _back_step(g, carry, rec, h_prev, p, opt):
    da = g * _act_grad(rec[0], opt["activation"])
    return (da,), da @ p.W_hh, None


# Lessons print this function (inspect.getsource): it keeps their 76-character column.
# fmt: off
def _block_grads(parts, x_blk, hprev_blk, p, opt):
    H, D = p.W_xh.shape
    da2 = parts[0].reshape(-1, H)
    return RNNGrads(
        da2.T @ x_blk.reshape(-1, D),
        da2.T @ hprev_blk.reshape(-1, H),
        da2.sum(axis=0),
    )
# fmt: on


KERNEL = _bptt.Kernel(
    project=_project,
    step=_step,
    state_of=lambda rec: rec[0],
    hidden=lambda h: h,
    back_step=_back_step,
    zero_carry=lambda state0: None,
    state_grad=lambda dh, carry: dh,
    block_grads=_block_grads,
    dx_block=lambda parts, p: parts[0] @ p.W_xh,
    record_widths=lambda H: (H,),
    part_widths=lambda H, opt: (H,),
)


def forward(x: np.ndarray, h0: np.ndarray, params: RNNParams, activation: str = "tanh") -> tuple[np.ndarray, RNNCache]:
    """Run the recurrence over all steps.  x (T, B, D), h0 (B, H) -> hs (T, B, H), cache.

    hs[t] is h_{t+1} in the maths (h0 is h_0, the state before the first input).
    """
    _check_inputs(x, h0, params, activation, step=False)
    (hs,) = _bptt.forward(KERNEL, x, h0, params, {"activation": activation})
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, RNNCache(x, h0, hs, params, activation)


# Lessons print this function (inspect.getsource): it keeps their 76-character column.
# fmt: off
def backward(
    dhs: np.ndarray, cache: RNNCache
) -> tuple[np.ndarray, np.ndarray, RNNGrads]:
    """Full BPTT.  dhs (T, B, H): the direct loss gradient w.r.t. each h_t.

    Returns dx (T, B, D), dh0 (B, H) and RNNGrads.  Backward recursion
    (rows, 0-based t), with dh_t the total gradient w.r.t. h_t:
    dh_t = dhs[t] + da_{t+1} @ W_hh;  da_t = dh_t * f'(a_t).
    """
    check_params_type("cache", cache, RNNCache)
    x, hs, p = cache.x, cache.hs, cache.params
    check_upstream("dhs", dhs, hs, ("T", "B", "H"))
    T = x.shape[0]
    das = np.empty_like(hs)
    dh_next = np.zeros_like(cache.h0)
    # overflow is reported below, with its step
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T - 1, -1, -1):
            da = (dhs[t] + dh_next) * _act_grad(hs[t], cache.activation)
            das[t] = da
            dh_next = da @ p.W_hh
    check_finite("dh (gradient flowing back)", das, time_axis=0)
    # h_{t-1} of every step
    h_prev = np.concatenate([cache.h0[None], hs[:-1]])
    # Sums over steps and examples: one product per block of steps, the
    # last block first. The blocks are those of bpttlab.numpy._bptt, so
    # checkpointed BPTT gets these very bits.
    dx = np.empty_like(x)
    grads = None
    for s, e in reversed(_bptt.blocks(T)):
        dx[s:e] = das[s:e] @ p.W_xh
        g = _block_grads((das[s:e],), x[s:e], h_prev[s:e], p, None)
        if grads is None:
            grads = g
        else:
            grads = RNNGrads(*(a + b for a, b in zip(grads, g)))
    assert grads is not None  # T >= 1: one block at least
    return dx, dh_next, grads
# fmt: on


# ----------------------------------------------------------------- readout and loss


def readout_forward(hs: np.ndarray, readout: ReadoutParams) -> tuple[np.ndarray, layers.AffineCache]:
    """y_t = W_hy h_t + b_y at every step.  hs (T, B, H) -> ys (T, B, O) (any leading axes: (..., H) -> (..., O))."""
    dims = leading_dims(hs, "H")
    check_float_array("hs", hs, dims)
    check_finite("hs", hs, time_axis=0 if len(dims) == 3 else None)
    check_readout_params("readout", readout, hs.shape[-1], hs.dtype)
    return layers.affine_forward(hs, readout.W_hy, readout.b_y)


def readout_backward(dys: np.ndarray, cache: layers.AffineCache) -> tuple[np.ndarray, ReadoutGrads]:
    """dys (T, B, O) -> dhs (T, B, H), ReadoutGrads."""
    check_params_type("cache", cache, layers.AffineCache)
    O = cache.W.shape[0]
    dims = leading_dims(cache.x, "O")
    check_float_array("dys", dys, dims)
    check_shape("dys", dys, cache.x.shape[:-1] + (O,), dims)
    check_same_dtype("dys", dys, "the forward pass", cache.x.dtype)
    check_finite("dys", dys, time_axis=0 if len(dims) == 3 else None)
    dhs, dW_hy, db_y = layers.affine_backward(dys, cache)
    return dhs, ReadoutGrads(dW_hy, db_y)


class LossGrads(NamedTuple):
    """Gradients of mse_loss_and_grads's loss: inputs dx (T, B, D), initial state dh0 (B, H), the cell, the readout."""

    dx: np.ndarray
    dh0: np.ndarray
    rnn: RNNGrads
    readout: ReadoutGrads


def mse_loss_and_grads(
    x: np.ndarray,
    targets: np.ndarray,
    h0: np.ndarray,
    params: RNNParams,
    readout: ReadoutParams,
    reduction: str = "mean",
    activation: str = "tanh",
) -> tuple[float, LossGrads]:
    """L = mean (or sum) over steps, batch and outputs of (y_t - targets_t)^2, with full BPTT.

    x (T, B, D), targets (T, B, O), h0 (B, H) -> (L, LossGrads).
    """
    hs, rnn_cache = forward(x, h0, params, activation)
    ys, out_cache = readout_forward(hs, readout)
    check_float_array("targets", targets, ("T", "B", "O"))
    check_shape("targets", targets, ys.shape, ("T", "B", "O"))
    check_same_dtype("targets", targets, "x", x.dtype)
    check_finite("targets", targets, time_axis=0)
    loss, dys = layers.mse_loss(ys, targets, reduction)
    dhs, readout_grads = readout_backward(dys, out_cache)
    dx, dh0, rnn_grads = backward(dhs, rnn_cache)
    return loss, LossGrads(dx, dh0, rnn_grads, readout_grads)


# ----------------------------------------------------------------- states and their gradients


def state_at(cache: RNNCache, t: int) -> np.ndarray:
    """The hidden state after t steps of the forward pass that made ``cache`` (t = 0 gives h0). (B, H)."""
    check_params_type("cache", cache, RNNCache)
    t = check_int("t", t, 0, cache.x.shape[0])
    return cache.h0 if t == 0 else cache.hs[t - 1]


def state_grads(dhs: np.ndarray, cache: RNNCache) -> np.ndarray:
    """Total gradients dh_t = dL/dh_t, direct plus through later steps.  dhs (T, B, H) -> (T, B, H).

    dh_{T-1} = dhs[T-1];  dh_t = dhs[t] + (dh_{t+1} * f'(a_{t+1})) W_hh.
    """
    check_params_type("cache", cache, RNNCache)
    check_upstream("dhs", dhs, cache.hs, ("T", "B", "H"))
    gs = np.empty_like(cache.hs)
    g_next_pre = np.zeros_like(cache.h0)
    for t in range(cache.hs.shape[0] - 1, -1, -1):
        gs[t] = dhs[t] + g_next_pre
        g_next_pre = (gs[t] * _act_grad(cache.hs[t], cache.activation)) @ cache.params.W_hh
    return gs


def step_jacobians(cache: RNNCache) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} = diag(f'(a_t)) W_hh for every step and example.  -> (T, B, H, H)."""
    check_params_type("cache", cache, RNNCache)
    fprime = _act_grad(cache.hs, cache.activation)  # (T, B, H)
    return fprime[..., :, None] * cache.params.W_hh[None, None]


def zero_state(params: RNNParams, B: int) -> np.ndarray:
    """The all-zero initial state h0 (B, H), in the dtype of the parameters."""
    H = check_params(params)
    B = check_int("B", B, 1)
    return np.zeros((B, H), dtype=params.W_hh.dtype)


def states(x: np.ndarray, h0: np.ndarray, params: RNNParams, activation: str = "tanh") -> list[np.ndarray]:
    """The state after t steps for t = 0..T (h0 first).  x (T, B, D) -> T + 1 arrays (B, H)."""
    hs, _ = forward(x, h0, params, activation)
    return [h0] + list(hs)


Cache = RNNCache  # the registry-wide name of this cell's sequence cache
