"""What only the vanilla RNN has: the readout and MSE loss (``mse_loss_and_grads``), step Jacobians,
T = 1 as ordinary backprop through the layers, and the relu subgradient.

The cell contract (forward, backward, steps, states, finite differences, long sequences,
float32, purity, saturation) is tested for every cell in test_cell_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from support import (
    ACTIVATIONS,
    GRAD_NAMES,
    REDUCTIONS,
    TOL_DIRECTION,
    TOL_FD,
    TOL_FLOAT32,
    TOL_LOOP,
    TOL_TORCH,
    Dims,
    dims,
    grad_list,
    make_problem,
    record,
    seeds,
)

from bpttlab import directional_check, numerical_gradient, rel_error
from bpttlab.numpy import layers, rnn
from bpttlab.params import RNNParams
from bpttlab.torch import grads_of, to_torch
from bpttlab.torch import rnn as trnn

SMALL = Dims(T=4, B=2, D=3, H=5, O=2)


# ----------------------------------------------------------------- the loss with a readout, NumPy vs torch


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(deadline=None, max_examples=8)
@given(seed=seeds, d=dims())
def test_mse_loss_and_grads_match_torch(activation, reduction, seed, d):
    """The loss and all seven gradients of mse_loss_and_grads (LossGrads) agree with autograd of
    bpttlab.torch.rnn.mse_loss in float64 to 1e-10."""
    p = make_problem(seed, d)
    loss, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction, activation)
    assert isinstance(g, rnn.LossGrads)

    tx = torch.tensor(p.x, requires_grad=True)
    th0 = torch.tensor(p.h0, requires_grad=True)
    tp, tr = to_torch(p.params, requires_grad=True), to_torch(p.readout, requires_grad=True)
    tloss = trnn.mse_loss(tx, torch.tensor(p.targets), th0, tp, tr, reduction, activation)
    tloss.backward()

    expected = [tx.grad.numpy(), th0.grad.numpy(), *grads_of(tp), *grads_of(tr)]
    pairs = [("loss", np.array(loss), tloss.detach().numpy()), *zip(GRAD_NAMES, grad_list(g), expected)]
    for name, ours, theirs in pairs:
        assert ours.shape == theirs.shape, name
        err = record(f"rnn: loss {activation}/{reduction}", ours, theirs)
        assert err <= TOL_TORCH, f"{name}: rel_error {err:.2e} (d={d}, seed={seed})"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_gradients_match_finite_differences(reduction):
    """Every gradient of the RNN + readout + MSE loss equals central differences of the loss."""
    p = make_problem(21, SMALL)
    _, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)

    def loss():
        return rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)[0]

    for name, arr, analytic in zip(GRAD_NAMES, p.arrays, grad_list(g)):
        err = rel_error(analytic, numerical_gradient(loss, arr))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_long_sequence_loss_directional_check(reduction):
    """On T = 300 the slope of the loss along random directions (all seven arrays) matches the finite difference."""
    p = make_problem(41, Dims(T=300, B=3, D=4, H=16, O=2))
    _, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)

    def loss():
        return rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout, reduction)[0]

    dir_rng = np.random.default_rng(42)
    for _ in range(3):
        analytic, numerical = directional_check(loss, p.arrays, grad_list(g), dir_rng)
        err = abs(analytic - numerical) / max(abs(analytic), abs(numerical))
        assert err < TOL_DIRECTION, f"slope {analytic:.6e} vs {numerical:.6e}: rel {err:.2e}"


def test_loss_float32_and_purity():
    """In float32 the loss and LossGrads stay float32 and agree with float64 to 1e-5; no input
    (x, targets, h0, weights, readout) is changed by the call."""
    d = Dims(T=20, B=3, D=4, H=8, O=2)
    p64, p32 = make_problem(51, d), make_problem(51, d, dtype=np.float32)
    before = [a.copy() for a in p64.arrays + [p64.targets]]
    loss64, g64 = rnn.mse_loss_and_grads(p64.x, p64.targets, p64.h0, p64.params, p64.readout)
    loss32, g32 = rnn.mse_loss_and_grads(p32.x, p32.targets, p32.h0, p32.params, p32.readout)
    assert abs(loss32 - loss64) / abs(loss64) < TOL_FLOAT32
    for name, a32, a64 in zip(GRAD_NAMES, grad_list(g32), grad_list(g64)):
        assert a32.dtype == np.float32, name
        assert rel_error(a32, a64) < TOL_FLOAT32, name
    for a, b in zip(p64.arrays + [p64.targets], before):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- T = 1 is ordinary backprop


@settings(deadline=None, max_examples=10)
@given(seed=seeds, d=dims(T=(1, 1)))
def test_single_step_is_affine_then_tanh(seed, d):
    """With T = 1 the RNN is layers.affine([x, h0]; [W_xh, W_hh], b_h) then layers.tanh: same output,
    same gradients (the sequence code against the layer code)."""
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


# ----------------------------------------------------------------- step Jacobians


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_step_jacobians_match_autograd(activation):
    """step_jacobians(cache)[t, b] = dh_{t+1}/dh_t of example b, against torch's jacobian of the twin's step."""
    p = make_problem(81, Dims(T=6, B=2, D=3, H=4, O=1))
    _, cache = rnn.forward(p.x, p.h0, p.params, activation)
    J = rnn.step_jacobians(cache)
    assert J.shape == (6, 2, 4, 4)
    tparams = to_torch(p.params)
    for t in range(6):
        h_prev = torch.tensor(rnn.state_at(cache, t))

        def step(h, t=t):
            return trnn.step_forward(torch.tensor(p.x[t]), h, tparams, activation)[0]

        full = torch.autograd.functional.jacobian(step, h_prev).numpy()  # (B, H, B, H)
        for b in range(2):
            assert record("rnn: step_jacobians", J[t, b], full[b, :, b, :]) <= TOL_TORCH, (t, b)
            other = full[b, :, 1 - b, :]
            assert not np.any(other)  # examples do not interact


def test_relu_subgradient_is_zero_at_the_kink():
    """A relu unit whose pre-activation is exactly 0 passes no gradient (the subgradient 0 of the module docstring)."""
    params = RNNParams(np.array([[1.0], [-1.0], [0.0]]), np.zeros((3, 3)), np.zeros(3))
    hs, cache = rnn.forward(np.ones((1, 1, 1)), np.zeros((1, 3)), params, "relu")
    assert np.array_equal(hs[0, 0], [1.0, 0.0, 0.0])
    _, _, grads = rnn.backward(np.ones((1, 1, 3)), cache)
    assert np.array_equal(grads.db_h, [1.0, 0.0, 0.0])
