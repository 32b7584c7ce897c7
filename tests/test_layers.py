"""Layers: one registry of cases feeds the finite-difference test and the torch cross-check."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from support import SATURATING, TOL_FD, TOL_TORCH, exact_one_minus_square, record, seeds

from bpttlab import numerical_gradient, rel_error
from bpttlab.numpy import layers as L
from bpttlab.torch import layers as TL


class Case(NamedTuple):
    """make(rng) -> (float inputs to differentiate, fixed extras); numpy(**all) -> (out, back); torch(**all) -> out.

    ``back(dout)`` returns the gradient of sum(dout * out) for every differentiable input, by name.
    """

    make: Callable
    numpy: Callable
    torch: Callable


def _sizes(rng, n, high=4):
    return tuple(int(s) for s in rng.integers(1, high + 1, size=n))


def _affine_make(rng):
    *lead, D, M = _sizes(rng, 4)
    return {"x": rng.standard_normal((*lead, D)), "W": rng.standard_normal((M, D)), "b": rng.standard_normal(M)}, {}


def _affine_numpy(x, W, b):
    out, cache = L.affine_forward(x, W, b)
    return out, lambda d: dict(zip("xWb", L.affine_backward(d, cache)))


def _activation(forward, backward, scale=1.0, away_from_zero=0.0):
    def make(rng):
        a = scale * rng.standard_normal(_sizes(rng, 2))
        return {"a": np.sign(a) * (away_from_zero + np.abs(a))}, {}

    def numpy(a):
        out, cache = forward(a)
        return out, lambda d: {"a": backward(d, cache)}

    return make, numpy


def _mse(reduction):
    def make(rng):
        shape = _sizes(rng, 3)
        return {"pred": rng.standard_normal(shape)}, {"target": rng.standard_normal(shape)}

    def numpy(pred, target):
        loss, dpred = L.mse_loss(pred, target, reduction)
        return np.array(loss), lambda d: {"pred": d * dpred}

    return Case(make, numpy, lambda pred, target: TL.mse_loss(pred, target, reduction))


def _cross_entropy(reduction):
    def make(rng):
        *lead, C = _sizes(rng, 3)
        C += 1  # at least two classes
        return {"logits": 3.0 * rng.standard_normal((*lead, C))}, {"labels": rng.integers(0, C, size=lead)}

    def numpy(logits, labels):
        loss, dlogits = L.softmax_cross_entropy(logits, labels, reduction)
        return np.array(loss), lambda d: {"logits": d * dlogits}

    return Case(make, numpy, lambda logits, labels: TL.softmax_cross_entropy(logits, labels, reduction))


CASES = {
    "affine": Case(_affine_make, _affine_numpy, TL.affine_forward),
    "tanh": Case(*_activation(L.tanh_forward, L.tanh_backward), TL.tanh_forward),
    "sigmoid": Case(*_activation(L.sigmoid_forward, L.sigmoid_backward, scale=5.0), TL.sigmoid_forward),
    "relu": Case(*_activation(L.relu_forward, L.relu_backward, away_from_zero=0.1), TL.relu_forward),
    "mse/mean": _mse("mean"),
    "mse/sum": _mse("sum"),
    "cross_entropy/mean": _cross_entropy("mean"),
    "cross_entropy/sum": _cross_entropy("sum"),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layer_matches_finite_differences(name, seed):
    """The hand-written backward of every layer equals central differences (float64, 1e-7)."""
    case = CASES[name]
    rng = np.random.default_rng(seed)
    inputs, extras = case.make(rng)
    out, back = case.numpy(**inputs, **extras)
    dout = rng.standard_normal(np.shape(out))
    grads = back(dout)
    assert set(grads) == set(inputs)
    for key, arr in inputs.items():
        numeric = numerical_gradient(lambda: case.numpy(**inputs, **extras)[0], arr, dout)
        err = rel_error(grads[key], numeric)
        assert err < TOL_FD, f"d{key}: rel_error {err:.2e}"


@pytest.mark.parametrize("name", CASES)
@settings(deadline=None, max_examples=20)
@given(seed=seeds)
def test_layer_matches_torch(name, seed):
    """Outputs and input gradients agree with torch autograd in float64 to 1e-10."""
    case = CASES[name]
    rng = np.random.default_rng(seed)
    inputs, extras = case.make(rng)
    out, back = case.numpy(**inputs, **extras)
    dout = rng.standard_normal(np.shape(out))
    grads = back(dout)

    t_in = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    t_out = case.torch(**t_in, **{k: torch.from_numpy(v) for k, v in extras.items()})
    (t_out * torch.from_numpy(dout)).sum().backward()
    assert record(f"layer {name}", out, t_out.detach().numpy()) <= TOL_TORCH
    for key, t in t_in.items():
        assert record(f"layer {name}", grads[key], t.grad.numpy()) <= TOL_TORCH, f"d{key}"


# ----------------------------------------------------------------- properties of single layers


def test_sigmoid_is_stable_for_large_inputs():
    """No overflow warning at |a| = 1000, and the saturated values are exact."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, _ = L.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])


def test_relu_subgradient_at_zero_is_zero_like_torch():
    """At a = 0 the relu backward passes no gradient, the convention torch uses too."""
    a = np.array([-1.0, 0.0, 2.0])
    r, cache = L.relu_forward(a)
    da = L.relu_backward(np.ones(3), cache)
    t = torch.tensor(a, requires_grad=True)
    torch.relu(t).sum().backward()
    np.testing.assert_array_equal(da, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(da, t.grad.numpy())


def test_cross_entropy_of_equal_logits_is_log_classes(rng):
    """Uniform logits give loss log C per example, and each row of the gradient sums to zero."""
    logits = np.zeros((3, 5))
    labels = np.array([0, 4, 2])
    loss, dlogits = L.softmax_cross_entropy(logits, labels, "sum")
    assert loss == pytest.approx(3 * np.log(5), rel=1e-15)
    np.testing.assert_allclose(dlogits.sum(axis=-1), 0.0, atol=1e-15)
    big = 100.0 * rng.standard_normal((4, 6))  # shifted internally: no overflow, finite loss
    loss_big, d_big = L.softmax_cross_entropy(big, rng.integers(0, 6, 4))
    assert np.isfinite(loss_big) and np.all(np.isfinite(d_big))


def test_sum_reduction_is_count_times_mean(rng):
    """For both losses, reduction='sum' is N times reduction='mean', and so are their gradients."""
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    (m, dm), (s, ds) = (L.mse_loss(pred, target, r) for r in ("mean", "sum"))
    assert s == pytest.approx(12 * m, rel=1e-14) and rel_error(ds, 12 * dm) < 1e-15
    labels = rng.integers(0, 3, 4)
    (m, dm), (s, ds) = (L.softmax_cross_entropy(pred, labels, r) for r in ("mean", "sum"))
    assert s == pytest.approx(4 * m, rel=1e-14) and rel_error(ds, 4 * dm) < 1e-15


def test_affine_on_leading_axes_equals_flattened(rng):
    """An affine layer on (T, B, D) is the same as on the (T*B, D) reshape, gradients included."""
    x, W, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    out, cache = L.affine_forward(x, W, b)
    out2, cache2 = L.affine_forward(x.reshape(6, 4), W, b)
    assert rel_error(out.reshape(6, 5), out2) == 0.0
    dout = rng.standard_normal(out.shape)
    (dx, dW, db), (dx2, dW2, db2) = L.affine_backward(dout, cache), L.affine_backward(dout.reshape(6, 5), cache2)
    assert rel_error(dx.reshape(6, 4), dx2) < 1e-15 and rel_error(dW, dW2) < 1e-15 and rel_error(db, db2) < 1e-15


def test_tanh_derivative_is_accurate_when_saturated():
    """tanh_backward gives 1 - h^2 to a few ulps even for |h| near 1 (1 - h*h would lose most digits)."""
    h, cache = L.tanh_forward(SATURATING.copy())
    da = L.tanh_backward(np.ones_like(h), cache)
    assert np.max(np.abs(da / exact_one_minus_square(h) - 1)) < 1e-15
