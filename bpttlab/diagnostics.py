"""Diagnostics of gradient flow through time in the NumPy backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from bpttlab import cells
from bpttlab._checks import check_generator, check_optional
from bpttlab.init import spectral_radius
from bpttlab.numpy import rnn


def _cell(cache: Any):
    """The NumPy cell module whose ``forward`` made ``cache`` (looked up in the registry)."""
    for spec in cells.CELLS.values():
        module = spec.numpy()
        if isinstance(cache, getattr(module, "Cache")):
            return module
    names = ", ".join(s.name for s in cells.CELLS.values())
    raise TypeError(f"cache: expected the cache of a NumPy cell's forward pass ({names}), got {type(cache).__name__}")


__all__ = ["spectral_radius", "state_grad_norms", "jacobian_product_norms", "gradient_vs_lag"]


def state_grad_norms(dhs: np.ndarray, cache: Any) -> np.ndarray:
    """||dL/dh_t|| for every step, averaged over the batch (any cell).  dhs (T, B, H) -> (T,)."""
    gs = _cell(cache).state_grads(dhs, cache)
    return np.linalg.norm(gs, axis=-1).mean(axis=1)


def jacobian_product_norms(cache: Any) -> np.ndarray:
    """Spectral norms of dh_T/dh_{T-k} = J_T J_{T-1} ... J_{T-k+1} for lags k = 0..T, batch-averaged.

    Entry 0 is the identity (norm 1); entry T is the sensitivity of the last state to h0. (T + 1,).
    Vanilla RNN caches only (a gated cell's state Jacobian also involves its gates and cell state).
    """
    if not isinstance(cache, rnn.RNNCache):
        raise TypeError(f"cache: expected the cache of bpttlab.numpy.rnn.forward, got {type(cache).__name__}")
    J = rnn.step_jacobians(cache)  # (T, B, H, H), J[t] = dh_{t+1}/dh_t in 1-based maths
    T, B, H, _ = J.shape
    P = np.broadcast_to(np.eye(H), (B, H, H)).copy()
    out = np.empty(T + 1)
    out[0] = 1.0
    for k in range(1, T + 1):
        P = P @ J[T - k]
        out[k] = np.linalg.norm(P, ord=2, axis=(1, 2)).mean()
    return out


def gradient_vs_lag(cache: Any, rng: np.random.Generator | None = None) -> np.ndarray:
    """||dL_T/dh_{T-k}|| for lags k = 0..T-1, where L_T = <u, h_T> with u a fixed unit direction.

    Uses a loss on the last step only, so the norm at lag k is exactly the gradient
    that has travelled k steps back. Batch-averaged. (T,).
    """
    _cell(cache)
    check_optional(check_generator, "rng", rng)
    T, B, H = cache.hs.shape
    u = np.ones(H) / np.sqrt(H) if rng is None else rng.standard_normal(H)
    u = u / np.linalg.norm(u)
    dhs = np.zeros_like(cache.hs)
    dhs[-1] = u
    norms = state_grad_norms(dhs, cache)
    return norms[::-1].copy()
