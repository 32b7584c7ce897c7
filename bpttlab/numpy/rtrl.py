"""Real-time recurrent learning (RTRL) and its rank-one approximation UORO, for the plain RNN.

BPTT stores the whole forward pass and walks back through it. RTRL (Williams & Zipser 1989)
needs no backward pass at all: it carries forward, for every example, the *sensitivity* of the
state to every parameter, P_t = dh_t/dtheta, with the recursion (a_t = W_xh x_t + W_hh h_{t-1} + b_h,
h_t = f(a_t), f' = f'(a_t) from h_t)

    P_t = diag(f') (W_hh P_{t-1} + M_t),       P_0 = 0,

where M_t = da_t/dtheta with h_{t-1} held fixed: for W_hh[i, j] it is h_{t-1}[j] in row i and zero
elsewhere, for W_xh[i, j] it is x_t[j] in row i, for b_h[i] the unit vector e_i. The sensitivity to
the initial state h0 follows the same recursion without M_t, from Q_0 = I. The gradient of a loss
L = sum_t L_t is then accumulated online, sum_t (dL_t/dh_t) P_t: the same number as BPTT's, for the
price of H x (number of parameters) numbers of memory per example (order H^3) and a product of
W_hh with them every step (order H^4 time per step), whatever the length of the sequence.

UORO (Tallec & Ollivier 2017, "Unbiased online recurrent optimization", arXiv:1702.05043) keeps
instead a rank-one estimate P_t ~ s_t theta_t^T, per example, updated with fresh random signs nu
(entries +1 or -1) at every step:

    s_t     = rho0 * (diag(f') W_hh s_{t-1}) + rho1 * nu
    theta_t = theta_{t-1} / rho0 + (nu^T diag(f') M_t) / rho1

with rho0 = sqrt(||theta_{t-1}|| / ||diag(f') W_hh s_{t-1}||) and rho1 = sqrt(||nu^T diag(f') M_t|| / ||nu||)
(each 1 where a norm is zero), which balance the two factors and keep the variance down. Its
expectation over the signs is exactly P_t, so the gradient estimate sum_t (dL_t/dh_t . s_t) theta_t is
unbiased, at a cost of order H^2 per step, like the forward pass itself.

Shapes are time-first, as in ``bpttlab.numpy.rnn``: x (T, B, D), h0 (B, H), dhs (T, B, H), the
direct gradients dL/dh_t of the loss (for L = sum_t <dhs_t, h_t> they are dhs itself).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_cell_inputs,
    check_cell_params,
    check_cell_state,
    check_float_array,
    check_generator,
    check_signs,
    check_upstream,
)
from bpttlab.numpy.activations import activate, activation_grad
from bpttlab.params import RNNGrads, RNNParams

SPEC = cells.CELLS["rnn"]

__all__ = [
    "RTRLCarry",
    "RTRLResult",
    "UOROCarry",
    "online_grads",
    "online_start",
    "rtrl_grads",
    "rtrl_step",
    "uoro_grads",
    "uoro_step",
]


class RTRLResult(NamedTuple):
    """hs (T, B, H): the states; grads: the gradient of L with respect to the parameters; dh0 (B, H): to h0."""

    hs: np.ndarray
    grads: RNNGrads
    dh0: np.ndarray


def _check(x: np.ndarray, h0: np.ndarray, params: RNNParams, dhs: np.ndarray, activation: str) -> int:
    H = check_cell_inputs(SPEC, x, h0, params, {"activation": activation}, step=False)
    check_upstream("dhs", dhs, np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape[:2] + (H,)), ("T", "B", "H"))
    return H


def _recur(W_hh: np.ndarray, P: np.ndarray) -> np.ndarray:
    """W_hh P for every example: P (B, H, H, n) -> (B, H, H, n), one matrix product of W_hh with
    the H x (H n) matrix of each example (order H^2 x H n multiply-adds)."""
    B, H, _, n = P.shape
    return (W_hh @ P.reshape(B, H, H * n)).reshape(B, H, H, n)


def rtrl_grads(
    x: np.ndarray, h0: np.ndarray, params: RNNParams, dhs: np.ndarray, activation: str = "tanh"
) -> RTRLResult:
    """The exact gradient of L (direct gradients dhs) by RTRL, forward in time only.

    x (T, B, D), h0 (B, H), dhs (T, B, H) -> RTRLResult(hs, RNNGrads, dh0). Carries per example
    P_xh (B, H, H, D), P_hh (B, H, H, H), P_b (B, H, H) and Q (B, H, H) = dh_t/dh0.
    """
    H = _check(x, h0, params, dhs, activation)
    T, B, D = x.shape
    dtype = x.dtype
    rows = np.arange(H)
    P_xh = np.zeros((B, H, H, D), dtype=dtype)
    P_hh = np.zeros((B, H, H, H), dtype=dtype)
    P_b = np.zeros((B, H, H), dtype=dtype)
    Q = np.broadcast_to(np.eye(H, dtype=dtype), (B, H, H)).copy()
    g_xh, g_hh, g_b = np.zeros((H, D), dtype), np.zeros((H, H), dtype), np.zeros(H, dtype)
    dh0 = np.zeros((B, H), dtype=dtype)
    hs = np.empty((T, B, H), dtype=dtype)
    u = x @ params.W_xh.T + params.b_h  # as in rnn.forward, so hs is the same array bit for bit
    h = h0
    for t in range(T):
        h_new = activate(u[t] + h @ params.W_hh.T, activation)
        fp = activation_grad(h_new, activation)[:, :, None]  # (B, H, 1): diag(f') applied to rows
        # W_hh P_{t-1}: the same recurrent map for every parameter's column of the sensitivity
        # (a matrix product over the flattened parameter axes: BLAS, not einsum's loops)
        P_xh = _recur(params.W_hh, P_xh)
        P_hh = _recur(params.W_hh, P_hh)
        P_b = params.W_hh @ P_b
        Q = params.W_hh @ Q
        # + M_t: row i of the pre-activation depends directly on row i of each weight
        P_xh[:, rows, rows, :] += x[t][:, None, :]
        P_hh[:, rows, rows, :] += h[:, None, :]
        P_b[:, rows, rows] += 1.0
        P_xh *= fp[..., None]
        P_hh *= fp[..., None]
        P_b *= fp
        Q *= fp
        # the loss at step t reads the sensitivities now: sum over examples of dL_t/dh_t P_t
        g_xh += np.einsum("bk,bkij->ij", dhs[t], P_xh)
        g_hh += np.einsum("bk,bkij->ij", dhs[t], P_hh)
        g_b += np.einsum("bk,bki->i", dhs[t], P_b)
        dh0 += np.einsum("bk,bki->bi", dhs[t], Q)
        hs[t] = h = h_new
    return RTRLResult(hs, RNNGrads(g_xh, g_hh, g_b), dh0)


def _balance(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """sqrt(numerator / denominator) per example, 1 where either is zero."""
    ok = (numerator > 0) & (denominator > 0)
    out = np.ones_like(numerator)
    out[ok] = np.sqrt(numerator[ok] / denominator[ok])
    return out


def uoro_grads(
    x: np.ndarray,
    h0: np.ndarray,
    params: RNNParams,
    dhs: np.ndarray,
    rng: np.random.Generator,
    activation: str = "tanh",
    signs: np.ndarray | None = None,
) -> RTRLResult:
    """An unbiased estimate of the parameter gradient of L by UORO, forward in time only.

    x (T, B, D), h0 (B, H), dhs (T, B, H); rng draws the signs nu (T, B, H), one array per step in
    time order, unless ``signs`` gives them (entries +1 or -1; for enumerating every draw in tests).
    Each example keeps its own rank-one pair (s (H,), theta (number of parameters,)), so repeating
    one example B times gives B independent estimates. The returned dh0 is zero: UORO, like this
    module's use of it, estimates the parameters' gradient only.
    """
    H = _check(x, h0, params, dhs, activation)
    T, B, D = x.shape
    check_generator("rng", rng)
    if signs is not None:
        check_signs(signs, (T, B, H))
    dtype = x.dtype
    s = np.zeros((B, H), dtype=dtype)
    th_xh, th_hh, th_b = np.zeros((B, H, D), dtype), np.zeros((B, H, H), dtype), np.zeros((B, H), dtype)
    g_xh, g_hh, g_b = np.zeros((H, D), dtype), np.zeros((H, H), dtype), np.zeros(H, dtype)
    hs = np.empty((T, B, H), dtype=dtype)
    u = x @ params.W_xh.T + params.b_h
    h = h0
    for t in range(T):
        h_new = activate(u[t] + h @ params.W_hh.T, activation)
        fp = activation_grad(h_new, activation)
        nu = (rng.integers(0, 2, size=(B, H)) * 2 - 1).astype(dtype) if signs is None else signs[t].astype(dtype)
        forward_s = fp * (s @ params.W_hh.T)  # diag(f') W_hh s_{t-1}, per example
        nf = nu * fp  # nu^T diag(f') M_t is the outer product of nu * f' with (x_t, h_{t-1}, 1)
        th_norm = np.sqrt((th_xh**2).sum(axis=(1, 2)) + (th_hh**2).sum(axis=(1, 2)) + (th_b**2).sum(axis=1))
        rho0 = _balance(th_norm, np.linalg.norm(forward_s, axis=1))
        vjp_norm = np.linalg.norm(nf, axis=1) * np.sqrt((x[t] ** 2).sum(axis=1) + (h**2).sum(axis=1) + 1.0)
        rho1 = _balance(vjp_norm, np.linalg.norm(nu, axis=1))
        s = rho0[:, None] * forward_s + rho1[:, None] * nu
        scale0, scale1 = (1.0 / rho0)[:, None, None], (1.0 / rho1)[:, None, None]
        th_xh = th_xh * scale0 + scale1 * nf[:, :, None] * x[t][:, None, :]
        th_hh = th_hh * scale0 + scale1 * nf[:, :, None] * h[:, None, :]
        th_b = th_b * scale0[:, :, 0] + scale1[:, :, 0] * nf
        weight = (dhs[t] * s).sum(axis=1)  # dL_t/dh_t . s_t, per example
        g_xh += np.einsum("b,bij->ij", weight, th_xh)
        g_hh += np.einsum("b,bij->ij", weight, th_hh)
        g_b += weight @ th_b
        hs[t] = h = h_new
    return RTRLResult(hs, RNNGrads(g_xh, g_hh, g_b), np.zeros((B, H), dtype=dtype))


# ----------------------------------------------------------------- one step at a time, for online learning


class RTRLCarry(NamedTuple):
    """What RTRL carries from one step to the next: the state h (B, H) and the sensitivities
    P_xh (B, H, H, D), P_hh (B, H, H, H), P_b (B, H, H) of h to the cell's parameters."""

    h: np.ndarray
    P_xh: np.ndarray
    P_hh: np.ndarray
    P_b: np.ndarray


class UOROCarry(NamedTuple):
    """What UORO carries: the state h (B, H) and, per example, the rank-one pair s (B, H) and
    th_xh (B, H, D), th_hh (B, H, H), th_b (B, H), with P_t ~ s_t theta_t^T."""

    h: np.ndarray
    s: np.ndarray
    th_xh: np.ndarray
    th_hh: np.ndarray
    th_b: np.ndarray


def online_start(h0: np.ndarray, params: RNNParams, method: str = "rtrl") -> RTRLCarry | UOROCarry:
    """The carry before the first step: the state h0 (B, H) and zero sensitivities (P_0 = 0).

    method: "rtrl" (an RTRLCarry) or "uoro" (a UOROCarry).
    """
    if method not in ("rtrl", "uoro"):
        raise ValueError(f"method: expected 'rtrl' or 'uoro', got {method!r}")
    check_float_array("h0", h0, ("B", "H"))
    H = check_cell_params(SPEC, params, None, h0.dtype)
    D = params.W_xh.shape[1]
    check_cell_state(SPEC, "h0", h0, h0.shape[0], H, h0.dtype)
    B, dtype = h0.shape[0], h0.dtype
    if method == "rtrl":
        return RTRLCarry(
            h0.copy(), np.zeros((B, H, H, D), dtype), np.zeros((B, H, H, H), dtype), np.zeros((B, H, H), dtype)
        )
    return UOROCarry(
        h0.copy(),
        np.zeros((B, H), dtype),
        np.zeros((B, H, D), dtype),
        np.zeros((B, H, H), dtype),
        np.zeros((B, H), dtype),
    )


def _check_carry(
    carry: object, cls: type[RTRLCarry] | type[UOROCarry], x_t: np.ndarray, params: RNNParams, activation: str
) -> int:
    if not isinstance(carry, cls):
        raise TypeError(f"carry: expected a {cls.__name__} (from online_start), got {type(carry).__name__}")
    H = check_cell_inputs(SPEC, x_t, carry.h, params, {"activation": activation}, step=True)
    B, D = x_t.shape
    shapes: dict[str, tuple[int, ...]] = {"h": (B, H)}
    if cls is RTRLCarry:
        shapes.update(P_xh=(B, H, H, D), P_hh=(B, H, H, H), P_b=(B, H, H))
    else:
        shapes.update(s=(B, H), th_xh=(B, H, D), th_hh=(B, H, H), th_b=(B, H))
    for name, shape in shapes.items():
        value = getattr(carry, name)
        if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != x_t.dtype:
            got = f"shape {value.shape}, dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(
                f"carry.{name}: expected shape {shape} and dtype {x_t.dtype} (B, H, D of x_t and params), got {got}"
            )
    return H


def rtrl_step(x_t: np.ndarray, carry: RTRLCarry, params: RNNParams, activation: str = "tanh") -> RTRLCarry:
    """One step of the RNN and of RTRL's recursion P_t = diag(f') (W_hh P_{t-1} + M_t).

    x_t (B, D); carry from online_start(..., "rtrl") or the previous rtrl_step. The parameters may
    change between steps (online learning); the sensitivities are then those of the past steps under
    the parameters of their time, as in Williams & Zipser's real-time algorithm.
    """
    H = _check_carry(carry, RTRLCarry, x_t, params, activation)
    rows = np.arange(H)
    h = carry.h
    h_new = activate(x_t @ params.W_xh.T + params.b_h + h @ params.W_hh.T, activation)
    fp = activation_grad(h_new, activation)[:, :, None]
    P_xh = _recur(params.W_hh, carry.P_xh)
    P_hh = _recur(params.W_hh, carry.P_hh)
    P_b = params.W_hh @ carry.P_b
    P_xh[:, rows, rows, :] += x_t[:, None, :]
    P_hh[:, rows, rows, :] += h[:, None, :]
    P_b[:, rows, rows] += 1.0
    P_xh *= fp[..., None]
    P_hh *= fp[..., None]
    P_b *= fp
    return RTRLCarry(h_new, P_xh, P_hh, P_b)


def uoro_step(
    x_t: np.ndarray, carry: UOROCarry, params: RNNParams, rng: np.random.Generator, activation: str = "tanh"
) -> UOROCarry:
    """One step of the RNN and of UORO's rank-one update, with fresh signs nu drawn from rng.

    The signs are drawn as in uoro_grads (``rng.integers(0, 2, size=(B, H)) * 2 - 1``), so looping
    uoro_step over a sequence with one generator reproduces uoro_grads with that generator.
    """
    _check_carry(carry, UOROCarry, x_t, params, activation)
    check_generator("rng", rng)
    B, dtype = x_t.shape[0], x_t.dtype
    h = carry.h
    h_new = activate(x_t @ params.W_xh.T + params.b_h + h @ params.W_hh.T, activation)
    fp = activation_grad(h_new, activation)
    nu = (rng.integers(0, 2, size=(B, h.shape[1])) * 2 - 1).astype(dtype)
    forward_s = fp * (carry.s @ params.W_hh.T)
    nf = nu * fp
    th_norm = np.sqrt(
        (carry.th_xh**2).sum(axis=(1, 2)) + (carry.th_hh**2).sum(axis=(1, 2)) + (carry.th_b**2).sum(axis=1)
    )
    rho0 = _balance(th_norm, np.linalg.norm(forward_s, axis=1))
    vjp_norm = np.linalg.norm(nf, axis=1) * np.sqrt((x_t**2).sum(axis=1) + (h**2).sum(axis=1) + 1.0)
    rho1 = _balance(vjp_norm, np.linalg.norm(nu, axis=1))
    s = rho0[:, None] * forward_s + rho1[:, None] * nu
    scale0, scale1 = (1.0 / rho0)[:, None, None], (1.0 / rho1)[:, None, None]
    th_xh = carry.th_xh * scale0 + scale1 * nf[:, :, None] * x_t[:, None, :]
    th_hh = carry.th_hh * scale0 + scale1 * nf[:, :, None] * h[:, None, :]
    th_b = carry.th_b * scale0[:, :, 0] + scale1[:, :, 0] * nf
    return UOROCarry(h_new, s, th_xh, th_hh, th_b)


def online_grads(dh_t: np.ndarray, carry: RTRLCarry | UOROCarry) -> RNNGrads:
    """The gradient of this step's loss, from its direct gradient dh_t = dL_t/dh_t (B, H), summed over
    the batch: sum_b dh_t[b] P_t[b] with RTRL's exact sensitivities, or its UORO estimate
    sum_b (dh_t[b] . s_t[b]) theta_t[b]."""
    if not isinstance(carry, (RTRLCarry, UOROCarry)):
        raise TypeError(f"carry: expected an RTRLCarry or a UOROCarry, got {type(carry).__name__}")
    check_upstream("dh_t", dh_t, carry.h, ("B", "H"))
    if isinstance(carry, RTRLCarry):
        return RNNGrads(
            np.einsum("bk,bkij->ij", dh_t, carry.P_xh),
            np.einsum("bk,bkij->ij", dh_t, carry.P_hh),
            np.einsum("bk,bki->i", dh_t, carry.P_b),
        )
    weight = (dh_t * carry.s).sum(axis=1)
    return RNNGrads(
        np.einsum("b,bij->ij", weight, carry.th_xh), np.einsum("b,bij->ij", weight, carry.th_hh), weight @ carry.th_b
    )
