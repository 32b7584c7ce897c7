"""GRU, forward and backward through time written by hand in NumPy.

Blocks [r, z, n] as in torch.nn.GRU; gx = W_x x_t + b_x and gh = W_h h_{t-1} + b_hh:

    r_t = sigmoid(gx_r + gh_r),  z_t = sigmoid(gx_z + gh_z)
    variant "torch":  n_t = tanh(gx_n + r_t * (W_hn h_{t-1} + b_hn))      (reset after the product)
    variant "cho":    n_t = tanh(gx_n + W_hn (r_t * h_{t-1}) + b_hn)      (Cho et al. 2014: reset before)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

n_t is the candidate state. Shapes: x (T, B, D), h0 (B, H), hs (T, B, H); W_x (3H, D),
W_h (3H, H), b_x and b_hh (3H,). The sequence functions hoist the input projection
out of the loop and form the weight gradients with one product per block of steps
(``bpttlab.numpy._bptt``, shared with checkpointed BPTT).
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
from bpttlab.numpy import _bptt
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


# Lessons print this function (inspect.getsource): it keeps their 76-character column.
# fmt: off
def _step_backward_core(dh, h_prev, r, z, n, p: GRUParams, variant: str):
    """One step back from dh = dL/dh_t (B, H).

    Returns (dgx (B, 3H), dgh_rz (B, 2H), dgh_n (B, H), dh_prev (B, H)):
    dgx, the gradient of the pre-activations [r, z, n] (equal to that
    of gx = W_x x_t + b_x); dgh_rz, of the r and z blocks of
    W_h h_prev + b_hh; dgh_n, of W_hn's product output (torch:
    W_hn h_prev + b_hn; cho: W_hn (r * h_prev) + b_hn); dh_prev, of
    h_{t-1} along all paths.
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
    dgh_rz = np.concatenate(
        [dr * sigmoid_grad(r), dz * sigmoid_grad(z)], axis=-1
    )
    dh_prev = dh_prev + dgh_rz @ p.W_h[: 2 * H]
    return np.concatenate([dgh_rz, dan], axis=-1), dgh_rz, dgh_n, dh_prev
# fmt: on


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


def step_backward(dh_t: np.ndarray, cache: StepCache) -> tuple[np.ndarray, np.ndarray, GRUGrads]:
    """Gradients of one step.  dh_t (B, H) -> dx_t (B, D), dh_prev (B, H), GRUGrads."""
    check_params_type("cache", cache, StepCache)
    check_upstream("dh_t", dh_t, cache.h_prev, ("B", "H"))
    p, opt = cache.params, {"variant": cache.variant}
    parts, dh_prev, _ = _back_step(dh_t, None, (None, cache.r, cache.z, cache.n), cache.h_prev, p, opt)
    return parts[0] @ p.W_x, dh_prev, _block_grads(parts, cache.x_t, cache.h_prev, p, opt)


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


def _project(x_blk, p, opt):
    return x_blk @ p.W_x.T + p.b_x


def _kstep(u_t, h, p, opt):
    h_t, r, z, n = _step(u_t, h, p, opt["variant"])
    return h_t, (h_t, r, z, n)


def _back_step(g, carry, rec, h_prev, p, opt):
    _, r, z, n = rec
    variant = opt["variant"]
    dgx, dgh_rz, dgh_n, dh_prev = _step_backward_core(g, h_prev, r, z, n, p, variant)
    parts = (dgx, dgh_rz, dgh_n) if variant == "torch" else (dgx, dgh_rz, dgh_n, r * h_prev)
    return parts, dh_prev, None


def _block_grads(parts, x_blk, hprev_blk, p, opt):
    """Weight gradients of a block; for Cho's variant the product W_hn (r * h_prev) uses the 4th part."""
    H = p.W_h.shape[1]
    D = x_blk.shape[-1]
    dgx2, drz2, dn2 = parts[0].reshape(-1, 3 * H), parts[1].reshape(-1, 2 * H), parts[2].reshape(-1, H)
    hp2 = hprev_blk.reshape(-1, H)
    u2 = hp2 if opt["variant"] == "torch" else parts[3].reshape(-1, H)
    dW_h = np.concatenate([drz2.T @ hp2, dn2.T @ u2], axis=0)
    db_hh = np.concatenate([drz2.sum(axis=0), dn2.sum(axis=0)])
    return GRUGrads(dgx2.T @ x_blk.reshape(-1, D), dW_h, dgx2.sum(axis=0), db_hh)


KERNEL = _bptt.Kernel(
    project=_project,
    step=_kstep,
    state_of=lambda rec: rec[0],
    hidden=lambda h: h,
    back_step=_back_step,
    zero_carry=lambda state0: None,
    state_grad=lambda dh, carry: dh,
    block_grads=_block_grads,
    dx_block=lambda parts, p: parts[0] @ p.W_x,
    record_widths=lambda H: (H, H, H, H),
    part_widths=lambda H, opt: (3 * H, 2 * H, H) if opt["variant"] == "torch" else (3 * H, 2 * H, H, H),
)


def forward(x: np.ndarray, h0: np.ndarray, params: GRUParams, variant: str = "torch") -> tuple[np.ndarray, GRUCache]:
    """Run the GRU over all steps.  x (T, B, D), h0 (B, H) -> hs (T, B, H), cache."""
    _check_inputs(x, h0, params, variant, step=False)
    hs, rs, zs, ns = _bptt.forward(KERNEL, x, h0, params, {"variant": variant})
    check_finite("hs (hidden states)", hs, time_axis=0)
    return hs, GRUCache(x, h0, hs, rs, zs, ns, params, variant)


def _backward(dhs: np.ndarray, cache: GRUCache, keep_gs: bool):
    check_params_type("cache", cache, GRUCache)
    check_upstream("dhs", dhs, cache.hs, ("T", "B", "H"))
    records = (cache.hs, cache.r, cache.z, cache.n)
    return _bptt.backward(KERNEL, dhs, cache.x, cache.h0, records, cache.params, {"variant": cache.variant}, keep_gs)


def backward(dhs: np.ndarray, cache: GRUCache) -> tuple[np.ndarray, np.ndarray, GRUGrads]:
    """Full BPTT.  dhs (T, B, H) -> dx (T, B, D), dh0 (B, H), GRUGrads (one product per block of steps)."""
    return _backward(dhs, cache, keep_gs=False)[1]


def state_grads(dhs: np.ndarray, cache: GRUCache) -> np.ndarray:
    """Total gradients dL/dh_t (direct plus through later steps).  dhs (T, B, H) -> (T, B, H)."""
    return _backward(dhs, cache, keep_gs=True)[0].gs


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
