"""The two-layer perceptron: hand-written backward against finite differences and torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from support import TOL_FD, TOL_TORCH, record, seeds

from bpttlab import numerical_gradient, rel_error
from bpttlab.init import init_mlp
from bpttlab.numpy import layers, mlp
from bpttlab.params import MLPGrads
from bpttlab.torch import grads_of, to_torch
from bpttlab.torch import mlp as tmlp

MLP_ACTIVATIONS = ("tanh", "sigmoid", "relu")


def make_mlp(seed, N, D, H, O, activation):
    """x (N, D) and MLPParams with non-zero biases, from default_rng(seed)."""
    rng = np.random.default_rng(seed)
    params = init_mlp(D, H, O, rng, activation=activation)
    params = params._replace(b_1=0.1 * rng.standard_normal(H), b_2=0.1 * rng.standard_normal(O))
    return rng.standard_normal((N, D)), params, rng


@pytest.mark.parametrize("activation", MLP_ACTIVATIONS)
def test_mlp_matches_finite_differences(activation):
    """dx and all four parameter gradients equal central differences of sum(dy * y)."""
    x, params, rng = make_mlp(3, N=5, D=4, H=6, O=3, activation=activation)
    y, cache = mlp.forward(x, params, activation)
    if activation == "relu":  # precondition: central differences must not straddle the kink
        assert np.abs(x @ params.W_1.T + params.b_1).min() > 1e-4
    dy = rng.standard_normal(y.shape)
    dx, grads = mlp.backward(dy, cache)
    assert isinstance(grads, MLPGrads)

    def f():
        return mlp.forward(x, params, activation)[0]

    for name, arr, analytic in [("dx", x, dx), *zip(grads._fields, params, grads)]:
        err = rel_error(analytic, numerical_gradient(f, arr, dy))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


@pytest.mark.parametrize("activation", MLP_ACTIVATIONS)
@settings(deadline=None, max_examples=20)
@given(seed=seeds, N=st.integers(1, 6), D=st.integers(1, 8), H=st.integers(1, 8), O=st.integers(1, 3))
def test_mlp_matches_torch(activation, seed, N, D, H, O):
    """y, dx and every parameter gradient agree with torch autograd in float64 to 1e-10."""
    x, params, rng = make_mlp(seed, N, D, H, O, activation)
    y, cache = mlp.forward(x, params, activation)
    dy = rng.standard_normal(y.shape)
    dx, grads = mlp.backward(dy, cache)

    tx, tp = torch.tensor(x, requires_grad=True), to_torch(params, requires_grad=True)
    ty = tmlp.forward(tx, tp, activation)
    (ty * torch.from_numpy(dy)).sum().backward()
    group = f"mlp {activation}"
    assert record(group, y, ty.detach().numpy()) <= TOL_TORCH
    assert record(group, dx, tx.grad.numpy()) <= TOL_TORCH
    for name, ours, theirs in zip(MLPGrads._fields, grads, grads_of(tp)):
        assert record(group, ours, theirs) <= TOL_TORCH, name


def test_mlp_is_composition_of_layers():
    """forward is affine -> activation -> affine, built from bpttlab.numpy.layers, nothing more."""
    x, params, _ = make_mlp(5, N=3, D=2, H=4, O=2, activation="tanh")
    y, _ = mlp.forward(x, params)
    a, _ = layers.affine_forward(x, params.W_1, params.b_1)
    expected, _ = layers.affine_forward(np.tanh(a), params.W_2, params.b_2)
    np.testing.assert_array_equal(y, expected)
