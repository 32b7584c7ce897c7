"""The vanilla RNN: NumPy BPTT against torch autograd, finite differences, step loops, T = 1, float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from bpttlab import directional_check, numerical_gradient, rel_error
from bpttlab.numpy import layers, rnn
from bpttlab.params import RNNGrads, RNNParams
from bpttlab.torch import grads_of, to_torch
from bpttlab.torch import rnn as trnn
from support import (
    ACTIVATIONS,
    GRAD_NAMES,
    REDUCTIONS,
    SATURATING,
    TOL_DIRECTION,
    TOL_FD,
    TOL_LOOP,
    TOL_TORCH,
    Dims,
    dims,
    exact_one_minus_square,
    grad_list,
    make_problem,
    record,
    seeds,
)


def preactivations(x, h0, params, hs):
    """a_t = W_xh x_t + W_hh h_{t-1} + b_h for every step, recomputed from the stored states."""
    h_prev = np.concatenate([h0[None], hs[:-1]])
    return x @ params.W_xh.T + h_prev @ params.W_hh.T + params.b_h


# ----------------------------------------------------------------- NumPy vs torch


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(deadline=None, max_examples=40)
@given(seed=seeds, d=dims())
def test_numpy_matches_torch(activation, reduction, seed, d):
    """hs, the loss and all seven gradients agree with autograd in float64 to 1e-10."""
    p = make_problem(seed, d)
    hs, _ = rnn.forward(p.x, p.h0, p.params, activation)
    loss, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction, activation)

    tx = torch.tensor(p.x, requires_grad=True)
    th0 = torch.tensor(p.h0, requires_grad=True)
    tp, tr = to_torch(p.params, requires_grad=True), to_torch(p.readout, requires_grad=True)
    ths = trnn.forward(tx, th0, tp, activation)
    tloss = trnn.mse_loss(tx, torch.tensor(p.targets), th0, tp, tr, reduction, activation)
    tloss.backward()

    expected = [tx.grad.numpy(), th0.grad.numpy(), *grads_of(tp), *grads_of(tr)]
    pairs = [("hs", hs, ths.detach().numpy()), ("loss", np.array(loss), tloss.detach().numpy())]
    pairs += list(zip(GRAD_NAMES, grad_list(g), expected))
    group = f"rnn {activation}/{reduction}"
    for name, ours, theirs in pairs:
        assert ours.shape == theirs.shape, name
        err = record(group, ours, theirs)
        assert err <= TOL_TORCH, f"{name}: rel_error {err:.2e} (d={d}, seed={seed})"


# ----------------------------------------------------------------- finite differences

SMALL = Dims(T=4, B=2, D=3, H=5, O=2)


def far_from_kink(p, activation, margin=1e-3):
    """Precondition for relu: no pre-activation within ``margin`` of 0, so differences see one piece."""
    if activation != "relu":
        return True
    hs, _ = rnn.forward(p.x, p.h0, p.params, activation)
    return np.abs(preactivations(p.x, p.h0, p.params, hs)).min() > margin


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_sequence_backward_matches_finite_differences(activation):
    """dx, dh0, dW_xh, dW_hh, db_h of ``backward`` equal central differences of sum(dhs * hs)."""
    p = make_problem(11, SMALL)
    assert far_from_kink(p, activation)
    hs, cache = rnn.forward(p.x, p.h0, p.params, activation)
    dhs = np.random.default_rng(12).standard_normal(hs.shape)
    dx, dh0, grads = rnn.backward(dhs, cache)

    def f():
        return rnn.forward(p.x, p.h0, p.params, activation)[0]

    for name, arr, analytic in [("dx", p.x, dx), ("dh0", p.h0, dh0), *zip(grads._fields, p.params, grads)]:
        err = rel_error(analytic, numerical_gradient(f, arr, dhs))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_gradients_match_finite_differences(reduction):
    """Every gradient of the full RNN + readout + MSE loss equals central differences of the loss."""
    p = make_problem(21, SMALL)
    _, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)

    def loss():
        return rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)[0]

    for name, arr, analytic in zip(GRAD_NAMES, p.arrays, grad_list(g)):
        err = rel_error(analytic, numerical_gradient(loss, arr))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_step_backward_matches_finite_differences(activation):
    """step_backward's dx_t, dh_prev and RNNGrads equal central differences of one step."""
    p = make_problem(31, SMALL)
    assert far_from_kink(p._replace(x=p.x[:1]), activation)
    x_t, h_prev = p.x[0], p.h0
    h_t, cache = rnn.step_forward(x_t, h_prev, p.params, activation)
    dh = np.random.default_rng(32).standard_normal(h_t.shape)
    dx_t, dh_prev, grads = rnn.step_backward(dh, cache)

    def f():
        return rnn.step_forward(x_t, h_prev, p.params, activation)[0]

    checks = [("dx_t", x_t, dx_t), ("dh_prev", h_prev, dh_prev), *zip(grads._fields, p.params, grads)]
    for name, arr, analytic in checks:
        err = rel_error(analytic, numerical_gradient(f, arr, dh))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_long_sequence_directional_check(reduction):
    """On T = 300 the analytic slope along random directions matches the finite difference to 1e-6."""
    p = make_problem(41, Dims(T=300, B=3, D=4, H=16, O=2))
    _, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)

    def loss():
        return rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)[0]

    dir_rng = np.random.default_rng(42)
    for _ in range(3):
        analytic, numerical = directional_check(loss, p.arrays, grad_list(g), dir_rng)
        err = abs(analytic - numerical) / max(abs(analytic), abs(numerical))
        assert err < TOL_DIRECTION, f"slope {analytic:.6e} vs {numerical:.6e}: rel {err:.2e}"


# ----------------------------------------------------------------- sequence = loop of steps


@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(deadline=None, max_examples=25)
@given(seed=seeds, d=dims())
def test_sequence_equals_loop_of_steps(activation, seed, d):
    """forward/backward equal step_forward/step_backward looped by hand (weight gradients summed)."""
    p = make_problem(seed, d)
    hs, cache = rnn.forward(p.x, p.h0, p.params, activation)
    dhs = np.random.default_rng(seed + 1).standard_normal(hs.shape)
    dx, dh0, grads = rnn.backward(dhs, cache)

    h, caches, loop_hs = p.h0, [], []
    for t in range(d.T):
        h, c = rnn.step_forward(p.x[t], h, p.params, activation)
        loop_hs.append(h)
        caches.append(c)
    loop_dx = np.empty_like(p.x)
    dh = np.zeros_like(p.h0)
    total = [np.zeros_like(w) for w in p.params]
    for t in reversed(range(d.T)):
        loop_dx[t], dh, g = rnn.step_backward(dhs[t] + dh, caches[t])
        total = [s + gi for s, gi in zip(total, g)]

    assert rel_error(hs, np.stack(loop_hs)) < TOL_LOOP
    assert rel_error(dx, loop_dx) < TOL_LOOP
    assert rel_error(dh0, dh) < TOL_LOOP
    for name, ours, looped in zip(RNNGrads._fields, grads, total):
        assert rel_error(ours, looped) < TOL_LOOP, name


# ----------------------------------------------------------------- T = 1 is ordinary backprop


@settings(deadline=None, max_examples=25)
@given(seed=seeds, d=dims(T=(1, 1)))
def test_single_step_is_affine_then_tanh(seed, d):
    """With T = 1 the RNN is affine([x, h0]; [W_xh, W_hh], b_h) then tanh: same output, same gradients."""
    p = make_problem(seed, d)
    hs, cache = rnn.forward(p.x, p.h0, p.params)
    dhs = np.random.default_rng(seed + 1).standard_normal(hs.shape)
    dx, dh0, grads = rnn.backward(dhs, cache)

    xh = np.concatenate([p.x[0], p.h0], axis=1)
    W = np.concatenate([p.params.W_xh, p.params.W_hh], axis=1)
    a, aff = layers.affine_forward(xh, W, p.params.b_h)
    h, act = layers.tanh_forward(a)
    dxh, dW, db = layers.affine_backward(layers.tanh_backward(dhs[0], act), aff)

    D = d.D
    pairs = [
        (hs[0], h),
        (dx[0], dxh[:, :D]),
        (dh0, dxh[:, D:]),
        (grads.dW_xh, dW[:, :D]),
        (grads.dW_hh, dW[:, D:]),
        (grads.db_h, db),
    ]
    for ours, reference in pairs:
        assert ours.shape == reference.shape
        assert rel_error(ours, reference) < TOL_LOOP


# ----------------------------------------------------------------- float32, purity, shapes


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_runs_and_agrees_with_float64(activation):
    """The float32 forward and backward stay float32 and agree with float64 to 1e-5."""
    d = Dims(T=20, B=3, D=4, H=8, O=2)
    p64, p32 = make_problem(51, d), make_problem(51, d, dtype=np.float32)
    hs64, _ = rnn.forward(p64.x, p64.h0, p64.params, activation)
    hs32, _ = rnn.forward(p32.x, p32.h0, p32.params, activation)
    loss64, g64 = rnn.mse_loss_and_grads(p64.x, p64.targets, p64.h0, p64.params, p64.readout, activation=activation)
    loss32, g32 = rnn.mse_loss_and_grads(p32.x, p32.targets, p32.h0, p32.params, p32.readout, activation=activation)

    assert hs32.dtype == np.float32 and rel_error(hs32, hs64) < 1e-5
    assert abs(loss32 - loss64) / abs(loss64) < 1e-5
    for name, a32, a64 in zip(GRAD_NAMES, grad_list(g32), grad_list(g64)):
        assert a32.dtype == np.float32, name
        assert rel_error(a32, a64) < 1e-5, name


def test_forward_backward_do_not_modify_inputs():
    """The functions are pure: inputs, initial state and parameters are unchanged after a pass."""
    p = make_problem(61, SMALL)
    before = [a.copy() for a in p.arrays + [p.targets]]
    rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout)
    for a, b in zip(p.arrays + [p.targets], before):
        np.testing.assert_array_equal(a, b)


def test_shapes_and_first_state():
    """hs is (T, B, H); its first entry is one step from h0; gradients are shaped like what they differentiate."""
    p = make_problem(71, Dims(T=5, B=2, D=3, H=4, O=1))
    hs, cache = rnn.forward(p.x, p.h0, p.params)
    h1, _ = rnn.step_forward(p.x[0], p.h0, p.params)
    assert hs.shape == (5, 2, 4)
    assert rel_error(hs[0], h1) < TOL_LOOP
    dx, dh0, grads = rnn.backward(np.ones_like(hs), cache)
    assert dx.shape == p.x.shape and dh0.shape == p.h0.shape
    assert isinstance(grads, RNNGrads)
    assert [g.shape for g in grads] == [w.shape for w in p.params]
    assert isinstance(p.params, RNNParams)


def test_tanh_step_derivative_is_accurate_when_saturated():
    """With a = W_xh x, the bias gradient of one step is 1 - h^2 to a few ulps, even for |h| near 1."""
    n = len(SATURATING)
    params = RNNParams(SATURATING[:, None].copy(), np.zeros((n, n)), np.zeros(n))
    h, cache = rnn.step_forward(np.ones((1, 1)), np.zeros((1, n)), params)
    _, _, grads = rnn.step_backward(np.ones_like(h), cache)
    assert np.max(np.abs(grads.db_h / exact_one_minus_square(h[0]) - 1)) < 1e-15
