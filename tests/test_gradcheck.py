"""The checkers themselves: rel_error, numerical_gradient and directional_check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import Dims, grad_list, make_problem, seeds

from bpttlab import directional_check, numerical_gradient, rel_error
from bpttlab.numpy import rnn
from bpttlab.params import RNNGrads

arrays = st.tuples(seeds, st.integers(1, 6), st.integers(1, 6)).map(
    lambda s: tuple(np.random.default_rng(s[0]).standard_normal((2, s[1], s[2])))
)


@settings(deadline=None, max_examples=30)
@given(ab=arrays, scale=st.floats(1e-6, 1e6))
def test_rel_error_properties(ab, scale):
    """Zero for equal arrays, symmetric, invariant to a common scale, and between 0 and 2."""
    a, b = ab
    assert rel_error(a, a.copy()) == 0.0
    e = rel_error(a, b)
    assert e == rel_error(b, a)
    assert rel_error(scale * a, scale * b) == pytest.approx(e, rel=1e-12)
    assert 0.0 < e <= 2.0


def test_rel_error_values():
    """Both zero gives 0; a small relative perturbation is measured; opposite arrays give 2."""
    z = np.zeros((2, 3))
    assert rel_error(z, z) == 0.0
    a = np.array([3.0, 4.0])
    assert rel_error(a, a * (1 + 1e-8)) == pytest.approx(1e-8 / (1 + 1e-8), rel=1e-6)
    assert rel_error(a, -a) == 2.0
    assert rel_error(a, z[0, :2]) == 1.0


def test_numerical_gradient_of_known_function(rng):
    """d/dx sum(df * x**3) = 3 df x**2, and x is restored bit for bit afterwards."""
    x = rng.standard_normal((3, 4))
    df = rng.standard_normal((3, 4))
    x0 = x.copy()
    g = numerical_gradient(lambda: x**3, x, df)
    np.testing.assert_array_equal(x, x0)
    assert rel_error(g, 3 * df * x0**2) < 1e-9


def test_numerical_gradient_perturbs_one_entry_each_way():
    """f sees x + eps e_i, then x - eps e_i, entry by entry; x is restored in between."""
    x = np.array([1.0, 2.0])
    seen = []

    def f():
        seen.append(x.copy())
        return x.sum()

    numerical_gradient(f, x, eps=0.5)
    np.testing.assert_array_equal(seen, [[1.5, 2.0], [0.5, 2.0], [1.0, 2.5], [1.0, 1.5]])
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_restores_x_when_f_raises():
    """If f raises midway, the perturbed entry is still put back before the error propagates."""
    x = np.array([1.0, 2.0])
    calls = []

    def f():
        calls.append(None)
        if len(calls) == 2:
            raise FloatingPointError("boom")
        return x.sum()

    with pytest.raises(FloatingPointError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def _rnn_setup():
    p = make_problem(7, Dims(T=40, B=2, D=3, H=6, O=2))
    _, g = rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout)

    def loss():
        return rnn.mse_loss_and_grads(p.x, p.targets, p.h0, p.params, p.readout)[0]

    return p, g, loss


def _rel(a, n):
    return abs(a - n) / max(abs(a), abs(n))


def test_directional_check_restores_inputs_and_is_reproducible():
    """The arrays are put back exactly, and the same generator seed gives the same slopes."""
    p, g, loss = _rnn_setup()
    before = [a.copy() for a in p.arrays]
    first = directional_check(loss, p.arrays, grad_list(g), np.random.default_rng(1))
    for a, b in zip(p.arrays, before):
        np.testing.assert_array_equal(a, b)
    assert directional_check(loss, p.arrays, grad_list(g), np.random.default_rng(1)) == first
    assert _rel(*first) < 1e-6


@pytest.mark.parametrize("bug", ["sign", "transposed dW_hh", "no recurrence (k = 1 truncation)"])
def test_directional_check_detects_wrong_gradient(bug):
    """Along the same direction the true gradient passes and a deliberately wrong one fails clearly."""
    p, g, loss = _rnn_setup()
    grads = grad_list(g)
    if bug == "sign":
        grads = [-a for a in grads]
    elif bug == "transposed dW_hh":
        grads[3] = grads[3].T.copy()
    else:  # each step's local gradient only: what BPTT computes if dh_prev is dropped
        hs, _ = rnn.forward(p.x, p.h0, p.params)
        dys = 2.0 / p.targets.size * (hs @ p.readout.W_hy.T + p.readout.b_y - p.targets)
        dhs = dys @ p.readout.W_hy
        h_prev = np.concatenate([p.h0[None], hs[:-1]])
        local = [rnn.step_backward(dhs[t], rnn.step_forward(p.x[t], h_prev[t], p.params)[1]) for t in range(len(hs))]
        grads[0] = np.stack([dx for dx, _, _ in local])
        grads[1] = np.zeros_like(p.h0)
        grads[2:5] = [sum(gr[i] for _, _, gr in local) for i in range(len(RNNGrads._fields))]
    right = directional_check(loss, p.arrays, grad_list(g), np.random.default_rng(3))
    wrong = directional_check(loss, p.arrays, grads, np.random.default_rng(3))
    assert _rel(*right) < 1e-6  # same direction: the correct gradient passes ...
    assert _rel(*wrong) > 1e-3  # ... and the wrong one fails by a wide margin


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-160, 1e160, 1e200, 1e300])
def test_rel_error_is_scale_free_far_outside_the_range_of_squares(scale):
    """At scales where the squares of the entries underflow or overflow, the error is that at scale 1
    (not nan, not 0), to rounding."""
    a, b = np.array([3.0, 4.0, -1.0]), np.array([3.0, 4.5, -1.25])
    assert rel_error(a * scale, b * scale) == pytest.approx(rel_error(a, b), rel=1e-14)
    assert rel_error(a * scale, a * scale) == 0.0
    assert rel_error(a * scale, -a * scale) == pytest.approx(2.0, rel=1e-15)


def test_rel_error_in_the_ordinary_range_is_the_plain_formula_bit_for_bit():
    """No rescaling happens for ordinary values: the result is exactly ||a - b|| / max(||a||, ||b||)."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.standard_normal((2, 4, 5)) * 10.0 ** rng.uniform(-100, 100)
        expected = float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))
        assert rel_error(a, b) == expected


@pytest.mark.parametrize(
    "a, b, error, pattern",
    [
        (np.array([1 + 1e-3j]), np.array([1.0]), TypeError, r"^a: expected real numbers"),
        (np.array([1.0, np.nan]), np.ones(2), FloatingPointError, r"^a: non-finite"),
        (np.ones(2), np.array([np.inf, 1.0]), FloatingPointError, r"^b: non-finite"),
    ],
    ids=["complex", "NaN in a", "inf in b"],
)
def test_rel_error_refuses_what_it_cannot_measure(a, b, error, pattern):
    with pytest.raises(error, match=pattern):
        rel_error(a, b)


def test_rel_error_reads_tensors_and_numbers():
    import torch

    assert rel_error(torch.tensor([3.0, 4.0], requires_grad=True), np.array([3.0, 4.0])) == 0.0
    assert rel_error(2.0, 1.0) == 0.5
