"""GRU, forward and backward through time written by hand in NumPy.

Blocks [r, z, n] as in torch.nn.GRU; gx = W_x x_t + b_x and gh = W_h h_{t-1} + b_hh:

    r_t = sigmoid(gx_r + gh_r),  z_t = sigmoid(gx_z + gh_z)
    variant "torch":  n_t = tanh(gx_n + r_t * (W_hn h_{t-1} + b_hn))      (reset after the product)
    variant "cho":    n_t = tanh(gx_n + W_hn (r_t * h_{t-1}) + b_hn)      (Cho et al. 2014: reset before)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

n_t is the candidate state. Shapes: x (T, B, D), h0 (B, H), hs (T, B, H); W_x (3H, D),
W_h (3H, H), b_x and b_hh (3H,). The sequence functions hoist the input projection
out of the loop and form the weight gradients with one product over all steps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_cell_inputs,
    check_cell_params,
    check_finite,
    check_int,
    check_params_type,
    check_upstream,
)
from bpttlab.numpy.activations import sigmoid, sigmoid_grad, tanh_grad
from bpttlab.params import GRUGrads, GRUParams

SPEC = cells.CELLS["gru"]
GATES = SPEC.gates
VARIANTS = SPEC.choices


def check_params(params: GRUParams, D: int | None = None, dtype: np.dtype | None = None) -> int:
    """Validate GRUParams; return H."""
    return check_cell_params(SPEC, params, D, dtype)


def _check_inputs(x: np.ndarray, h: np.ndarray, params: GRUParams, variant: str, step: bool) -> int:
    return check_cell_inputs(SPEC, x, h, params, {"variant": variant}, step)


def _step(gx: np.ndarray, h_prev: np.ndarray, p: GRUParams, variant: str):
    """One step from the input projection gx (B, 3H); returns (h_t, r, z, n), each (B, H)."""
    H = h_prev.shape[-1]
    rz = sigmoid(gx[:, : 2 * H] + h_prev @ p.W_h[: 2 * H].T + p.b_hh[: 2 * H])
    r, z = rz[:, :H], rz[:, H:]
    if variant == "torch":
        hn = r * (h_prev @ p.W_h[2 * H :].T + p.b_hh[2 * H :])
    else:
        hn = (r * h_prev) @ p.W_h[2 * H :].T + p.b_hh[2 * H :]
    n = np.tanh(gx[:, 2 * H :] + hn)
    return (1.0 - z) * n + z * h_prev, r, z, n


def _step_backward_core(dh, h_prev, r, z, n, p: GRUParams, variant: str):
    """One step back from dh = dL/dh_t (B, H). Returns (dgx (B, 3H), dgh_rz (B, 2H), dgh_n (B, H), dh_prev (B, H)).

    dgx: gradient of the pre-activations [r, z, n] (equal to that of gx = W_x x_t + b_x);
    dgh_rz: of the r and z blocks of W_h h_prev + b_hh; dgh_n: of W_hn's product output
    (torch: W_hn h_prev + b_hn; cho: W_hn (r * h_prev) + b_hn); dh_prev: of h_{t-1}, all paths.
    """
    H = h_prev.shape[-1]
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dh_prev = dh * z
    dan = dn * tanh_grad(n)
    if variant == "torch":
        ghn = h_prev @ p.W_h[2 * H :].T + p.b_hh[2 * H :]
        dr = dan * ghn
        dgh_n = dan * r
        dh_prev = dh_prev + dgh_n @ p.W_h[2 * H :]
    else:
        du = dan @ p.W_h[2 * H :]
        dr = du * h_prev
        dgh_n = dan
        dh_prev = dh_prev + du * r
    dgh_rz = np.concatenate([dr * sigmoid_grad(r), dz * sigmoid_grad(z)], axis=-1)
    dh_prev = dh_prev + dgh_rz @ p.W_h[: 2 * H]
    return np.concatenate([dgh_rz, dan], axis=-1), dgh_rz, dgh_n, dh_prev


# ----------------------------------------------------------------- one step


class StepCache(NamedTuple):
    x_t: np.ndarray
    h_prev: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    params: GRUParams
    variant: str


def step_forward(
    x_t: np.ndarray, h_prev: np.ndarray, params: GRUParams, variant: str = "torch"
) -> tuple[np.ndarray, StepCache]:
    """One GRU step.  x_t (B, D), h_prev (B, H) -> h_t (B, H), cache."""
    _check_inputs(x_t, h_prev, params, variant, step=True)
    h_t, r, z, n = _step(x_t @ params.W_x.T + params.b_x, h_prev, params, variant)
    return h_t, StepCache(x_t, h_prev, r, z, n, params, variant)


def _weight_grads(dgx, dgh_rz, dgh_n, x, h_prev, r, variant: str, H: int) -> GRUGrads:
    """Weight gradients from per-step gradients stacked along a leading axis (any number of rows)."""
    D = x.shape[-1]
    dgx2, drz2, dn2 = dgx.reshape(-1, 3 * H), dgh_rz.reshape(-1, 2 * H), dgh_n.reshape(-1, H)
    hp2 = h_prev.reshape(-1, H)
    u2 = hp2 if variant == "torch" else (r * h_prev).reshape(-1, H)
    dW_h = np.concatenate([drz2.T @ hp2, dn2.T @ u2], axis=0)
    db_hh = np.concatenate([drz2.sum(axis=0), dn2.sum(axis=0)])
    return GRUGrads(dgx2.T @ x.reshape(-1, D), dW_h, dgx2.sum(axis=0), db_hh)


def step_backward(dh_t: np.ndarray, cache: StepCache) -> tuple[np.ndarray, np.ndarray, GRUGrads]:
    """Gradients of one step.  dh_t (B, H) -> dx_t (B, D), dh_prev (B, H), GRUGrads."""
    check_params_type("cache", cache, StepCache)
    check_upstream("dh_t", dh_t, cache.h_prev, ("B", "H"))
    p, H = cache.params, cache.h_prev.shape[-1]
    dgx, dgh_rz, dgh_n, dh_prev = _step_backward_core(dh_t, cache.h_prev, cache.r, cache.z, cache.n, p, cache.variant)
    grads = _weight_grads(dgx, dgh_rz, dgh_n, cache.x_t, cache.h_prev, cache.r, cache.variant, H)
    return dgx @ p.W_x, dh_prev, grads


# ----------------------------------------------------------------- a sequence


class GRUCache(NamedTuple):
    x: np.ndarray
    h0: np.ndarray
    hs: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    params: GRUParams
    variant: str


def forward(
    x: np.ndarray, h0: np.ndarray, params: GRUParams, variant: str = "torch"
) -> tuple[np.ndarray, GRUCache]:
    """Run the GRU over all steps.  x (T, B, D), h0 (B, H) -> hs (T, B, H), cache."""
    H = _check_inputs(x, h0, params, variant, step=False)
    T, B, _ = x.shape
    gx = x @ params.W_x.T + params.b_x  # input projection of every step at once
    hs, rs, zs, ns = (np.empty((T, B, H), dtype=x.dtype) for _ in range(4))
    h = h0
    for t in range(T):
        h, rs[t], zs[t], ns[t] = _step(gx[t], h, params, variant)
        hs[t] = h
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, GRUCache(x, h0, hs, rs, zs, ns, params, variant)


def _backward(dhs: np.ndarray, cache: GRUCache):
    check_params_type("cache", cache, GRUCache)
    hs, p = cache.hs, cache.params
    check_upstream("dhs", dhs, hs, ("T", "B", "H"))
    T, B, H = hs.shape
    dgx = np.empty((T, B, 3 * H), dtype=hs.dtype)
    dgh_rz = np.empty((T, B, 2 * H), dtype=hs.dtype)
    dgh_n = np.empty((T, B, H), dtype=hs.dtype)
    gs = np.empty_like(hs)
    dh_next = np.zeros_like(cache.h0)
    for t in range(T - 1, -1, -1):
        h_prev = cache.h0 if t == 0 else hs[t - 1]
        gs[t] = dhs[t] + dh_next
        dgx[t], dgh_rz[t], dgh_n[t], dh_next = _step_backward_core(
            gs[t], h_prev, cache.r[t], cache.z[t], cache.n[t], p, cache.variant
        )
    check_finite("dh (gradient flowing back)", gs, time_axis=0)
    return dgx, dgh_rz, dgh_n, dh_next, gs


def backward(dhs: np.ndarray, cache: GRUCache) -> tuple[np.ndarray, np.ndarray, GRUGrads]:
    """Full BPTT.  dhs (T, B, H) -> dx (T, B, D), dh0 (B, H), GRUGrads."""
    dgx, dgh_rz, dgh_n, dh0, _ = _backward(dhs, cache)
    H = cache.hs.shape[-1]
    h_prev = np.concatenate([cache.h0[None], cache.hs[:-1]], axis=0)
    grads = _weight_grads(dgx, dgh_rz, dgh_n, cache.x, h_prev, cache.r, cache.variant, H)
    return dgx @ cache.params.W_x, dh0, grads


def state_grads(dhs: np.ndarray, cache: GRUCache) -> np.ndarray:
    """Total gradients dL/dh_t (direct plus through later steps).  dhs (T, B, H) -> (T, B, H)."""
    return _backward(dhs, cache)[4]


def state_at(cache: GRUCache, t: int) -> np.ndarray:
    """The hidden state after t steps of the forward pass (t = 0 gives h0). (B, H)."""
    check_params_type("cache", cache, GRUCache)
    t = check_int("t", t, 0, cache.x.shape[0])
    return cache.h0 if t == 0 else cache.hs[t - 1]


def zero_state(params: GRUParams, B: int) -> np.ndarray:
    """The all-zero h0 (B, H) in the dtype of the parameters."""
    H = check_params(params)
    B = check_int("B", B, 1)
    return np.zeros((B, H), dtype=params.W_h.dtype)


def states(x: np.ndarray, h0: np.ndarray, params: GRUParams, variant: str = "torch") -> list[np.ndarray]:
    """The state after t steps for t = 0..T (h0 first).  x (T, B, D) -> T + 1 arrays (B, H)."""
    hs, _ = forward(x, h0, params, variant)
    return [h0] + list(hs)

Cache = GRUCache  # the registry-wide name of this cell's sequence cache
