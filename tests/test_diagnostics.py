"""Diagnostics of gradient flow: dL/dh_t against autograd, Jacobian products, the linear case r**k, spectral radius."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from support import TOL_TORCH, record, seeds

from bpttlab import diagnostics, rel_error
from bpttlab.init import init_rnn, orthogonal, rescale_spectral_radius
from bpttlab.numpy import rnn
from bpttlab.params import RNNParams

ACT = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


def rnn_case(seed, T, B, D, H, activation="tanh", scale=1.0):
    rng = np.random.default_rng(seed)
    params = init_rnn(D, H, rng, recurrent_scale=scale)._replace(b_h=0.1 * rng.standard_normal(H))
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    hs, cache = rnn.forward(x, h0, params, activation)
    return rng, x, h0, params, hs, cache


def torch_steps(x, h, params, activation, keep=None):
    """The recurrence written out in torch ops (independent of bpttlab.torch); returns the list of states."""
    W_xh, W_hh, b_h = (torch.tensor(a) for a in params)
    out = []
    for t in range(x.shape[0]):
        h = ACT[activation](x[t] @ W_xh.T + h @ W_hh.T + b_h)
        if keep is not None:
            h.retain_grad()
        out.append(h)
    return out


# ----------------------------------------------------------------- dL/dh_t


@settings(deadline=None, max_examples=40)
@given(
    seed=seeds,
    T=st.integers(1, 12),
    B=st.integers(1, 3),
    D=st.integers(1, 4),
    H=st.integers(1, 5),
    activation=st.sampled_from(("tanh", "relu", "linear")),
)
def test_state_grads_match_autograd(seed, T, B, D, H, activation):
    """g_t = dL/dh_t with L = sum_t <dhs_t, h_t>: the total gradient of each state (retain_grad in torch)."""
    rng, x, h0, params, hs, cache = rnn_case(seed, T, B, D, H, activation)
    dhs = rng.standard_normal((T, B, H))
    gs = rnn.state_grads(dhs, cache)
    states = torch_steps(torch.tensor(x), torch.tensor(h0, requires_grad=True), params, activation, keep=True)
    loss = sum((torch.tensor(dhs[t]) * h).sum() for t, h in enumerate(states))
    loss.backward()
    expected = np.stack([h.grad.numpy() for h in states])
    assert record("diagnostics state_grads", gs, expected) <= TOL_TORCH
    assert gs.shape == (T, B, H)
    norms = diagnostics.state_grad_norms(dhs, cache)
    assert np.allclose(norms, np.linalg.norm(expected, axis=-1).mean(axis=1), rtol=1e-10, atol=0)


def test_state_grads_of_a_last_step_loss_match_autograd_grad():
    """A real loss: MSE at the last step through a readout; autograd.grad w.r.t. every state."""
    rng, x, h0, params, hs, cache = rnn_case(5, 15, 2, 3, 4)
    W_hy = rng.standard_normal((1, 4))
    target = rng.standard_normal((2, 1))
    dhs = np.zeros_like(hs)
    dhs[-1] = 2 * (hs[-1] @ W_hy.T - target) @ W_hy / 2  # d/dh of mean over batch of squared error
    states = torch_steps(torch.tensor(x), torch.tensor(h0, requires_grad=True), params, "tanh")
    loss = ((states[-1] @ torch.tensor(W_hy).T - torch.tensor(target)) ** 2).mean()
    expected = torch.autograd.grad(loss, states)
    gs = rnn.state_grads(dhs, cache)
    assert rel_error(gs, np.stack([g.numpy() for g in expected])) <= TOL_TORCH
    assert np.linalg.norm(gs[0]) < np.linalg.norm(gs[-1])  # the signal fades on its way back (tanh, scale 1)


# ----------------------------------------------------------------- Jacobian products


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_jacobian_product_norms_match_explicit_products(activation):
    """||dh_T/dh_{T-k}||_2 for k = 0..T from torch.autograd.functional.jacobian of the unrolled map."""
    T, B, D, H = 4, 2, 2, 3
    _, x, h0, params, hs, cache = rnn_case(7, T, B, D, H, activation, scale=1.3)
    got = diagnostics.jacobian_product_norms(cache)
    assert got.shape == (T + 1,)
    expected = np.empty(T + 1)
    for k in range(T + 1):
        norms = []
        for b in range(B):
            start = torch.tensor(rnn.state_at(cache, T - k)[b : b + 1])
            xs = torch.tensor(x[T - k :, b : b + 1])

            def last_state(h, xs=xs):
                states = torch_steps(xs, h, params, activation)
                return states[-1] if states else h

            J = torch.autograd.functional.jacobian(last_state, start)[0, :, 0, :].numpy()  # (H, H)
            norms.append(np.linalg.norm(J, ord=2))
        expected[k] = np.mean(norms)
    assert expected[0] == 1.0 and got[0] == 1.0
    assert rel_error(got, expected) <= TOL_TORCH


@pytest.mark.parametrize("r", [0.5, 0.8, 1.0, 1.2, 1.5])
def test_linear_orthogonal_recurrence_gives_r_to_the_k(r):
    """Pascanu et al. (2013), linear case: W_hh = r Q with Q orthogonal, zero inputs: ||dL/dh_{T-k}|| = r**k."""
    T, B, D, H = 25, 2, 3, 5
    rng = np.random.default_rng(int(r * 100))
    params = RNNParams(rng.standard_normal((H, D)), r * orthogonal(rng, H), np.zeros(H))
    x = np.zeros((T, B, D))
    h0 = rng.standard_normal((B, H))
    _, cache = rnn.forward(x, h0, params, "linear")
    lags = np.arange(T)
    for u_rng in (None, np.random.default_rng(3)):
        norms = diagnostics.gradient_vs_lag(cache, u_rng)
        assert norms.shape == (T,)
        np.testing.assert_allclose(norms, r**lags, rtol=1e-12, atol=0)
    np.testing.assert_allclose(diagnostics.jacobian_product_norms(cache), r ** np.arange(T + 1), rtol=1e-12, atol=0)


@settings(deadline=None, max_examples=30)
@given(seed=seeds, r=st.floats(0.3, 2.0), T=st.integers(2, 20))
def test_tanh_gradient_never_exceeds_the_linear_bound(seed, r, T):
    """|tanh'| <= 1, so with W_hh = r Q the gradient at lag k is at most r**k (the bound of Pascanu et al.)."""
    rng = np.random.default_rng(seed)
    H, D, B = 4, 2, 3
    params = RNNParams(rng.standard_normal((H, D)), r * orthogonal(rng, H), 0.1 * rng.standard_normal(H))
    _, cache = rnn.forward(rng.standard_normal((T, B, D)), np.zeros((B, H)), params, "tanh")
    norms = diagnostics.gradient_vs_lag(cache, rng)
    assert norms[0] == pytest.approx(1.0, rel=1e-14)
    assert np.all(norms <= r ** np.arange(T) * (1 + 1e-12))
    assert np.all(diagnostics.jacobian_product_norms(cache) <= r ** np.arange(T + 1) * (1 + 1e-12))


# ----------------------------------------------------------------- spectral radius


def rotation(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


@pytest.mark.parametrize(
    "W, radius",
    [
        (np.diag([0.5, -2.0, 1.0]), 2.0),
        (3.0 * rotation(0.7), 3.0),  # complex eigenvalues 3 e^{+-0.7i}
        (np.array([[0.0, 2.0], [0.5, 0.0]]), 1.0),  # eigenvalues +-1
        (np.array([[2.0, 100.0], [0.0, -3.0]]), 3.0),  # far from normal: the 2-norm is about 100
        (np.array([[0.0, 1.0], [0.0, 0.0]]), 0.0),  # nilpotent
        (np.array([[7.0]]), 7.0),
    ],
)
def test_spectral_radius_of_known_matrices(W, radius):
    assert diagnostics.spectral_radius(W) == pytest.approx(radius, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("W", [np.ones((2, 3)), np.ones(3), np.ones((2, 2, 2)), np.ones((0, 0))])
def test_spectral_radius_rejects_non_square(W):
    with pytest.raises(ValueError, match="^W:"):
        diagnostics.spectral_radius(W)


@pytest.mark.parametrize(
    "W, error",
    [
        ([[1.0, 0.0], [0.0, 1.0]], TypeError),
        (np.eye(2, dtype=complex), TypeError),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), FloatingPointError),
    ],
    ids=["list", "complex", "NaN"],
)
def test_spectral_radius_rejects_other_matrices(W, error):
    with pytest.raises(error, match="^W:"):
        diagnostics.spectral_radius(W)


@settings(deadline=None, max_examples=50)
@given(seed=seeds, H=st.integers(1, 8), radius=st.floats(0.05, 5.0), dtype=st.sampled_from((np.float64, np.float32)))
def test_rescale_spectral_radius_hits_the_target(seed, H, radius, dtype):
    W = np.random.default_rng(seed).standard_normal((H, H)).astype(dtype)
    V = rescale_spectral_radius(W, radius)
    assert V.dtype == W.dtype
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert diagnostics.spectral_radius(V) == pytest.approx(radius, rel=tol)
    c = V.astype(np.float64).ravel() @ W.astype(np.float64).ravel() / (np.linalg.norm(W) ** 2)
    np.testing.assert_allclose(V, c * W, rtol=tol)  # a positive multiple of W
    assert c > 0


@pytest.mark.parametrize("W", [np.zeros((3, 3)), np.array([[0.0, 1.0], [0.0, 0.0]])])
def test_rescale_rejects_matrices_with_radius_zero(W):
    with pytest.raises(ValueError, match="^W:"):
        rescale_spectral_radius(W, 1.0)


@pytest.mark.parametrize("radius", [0.0, -1.0, np.inf, np.nan])
def test_rescale_rejects_bad_radius(radius):
    with pytest.raises(ValueError, match="^radius:"):
        rescale_spectral_radius(np.eye(2), radius)
