"""Initialisation, the noisy-sine task and the optimisers: reproducibility, shapes, arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from bpttlab.init import init_mlp, init_readout, init_rnn
from bpttlab.optim import adam_init, adam_step, sgd_step
from bpttlab.params import MLPParams, ReadoutGrads, ReadoutParams, RNNParams
from bpttlab.tasks import noisy_sine

FACTORIES = {
    "init_rnn": (lambda rng, dtype: init_rnn(3, 5, rng, dtype), RNNParams, [(5, 3), (5, 5), (5,)]),
    "init_readout": (lambda rng, dtype: init_readout(5, 2, rng, dtype), ReadoutParams, [(2, 5), (2,)]),
    "init_mlp": (lambda rng, dtype: init_mlp(3, 5, 2, rng, dtype), MLPParams, [(5, 3), (5,), (2, 5), (2,)]),
    "noisy_sine": (lambda rng, dtype: noisy_sine(7, 3, rng, dtype=dtype), None, [(7, 3, 1), (7, 3, 1)]),
}


def _gen(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factory_shapes_and_dtypes(name, dtype):
    """Every array has the documented shape and the requested dtype; containers have the right type."""
    make, cls, shapes = FACTORIES[name]
    out = make(_gen(0), dtype)
    if cls is not None:
        assert type(out) is cls
    assert [a.shape for a in out] == shapes
    assert all(a.dtype == dtype for a in out)


@pytest.mark.parametrize("name", FACTORIES)
def test_seeds_reproduce_and_differ(name):
    """The same seed gives bit-identical arrays; another seed gives different random arrays."""
    make = FACTORIES[name][0]
    a, b, c = make(_gen(5), np.float64), make(_gen(5), np.float64), make(_gen(6), np.float64)
    for u, v, w in zip(a, b, c):
        np.testing.assert_array_equal(u, v)
        if np.any(u != 0):  # biases start at zero whatever the seed
            assert np.any(u != w)


def test_no_global_rng_is_used():
    """Re-seeding or drawing from NumPy's global RNG does not change what a Generator gives."""
    np.random.seed(1)
    a = init_rnn(4, 6, _gen(3))
    np.random.seed(2)
    np.random.standard_normal(10)
    b = init_rnn(4, 6, _gen(3))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_init_variances():
    """W_xh ~ N(0, 1/D), W_hh ~ N(0, s^2/H), W_1 of a relu MLP ~ N(0, 2/D): sample stds within 2%."""
    D, H = 300, 400
    p = init_rnn(D, H, _gen(0), recurrent_scale=0.5)
    assert np.std(p.W_xh) * np.sqrt(D) == pytest.approx(1.0, rel=0.02)
    assert np.std(p.W_hh) * np.sqrt(H) == pytest.approx(0.5, rel=0.02)
    np.testing.assert_array_equal(p.b_h, 0.0)
    m = init_mlp(D, H, 2, _gen(0), activation="relu")
    assert np.std(m.W_1) * np.sqrt(D / 2) == pytest.approx(1.0, rel=0.02)


# ----------------------------------------------------------------- noisy sine


def test_noisy_sine_target_is_next_clean_value():
    """With noise = 0, y[t] is exactly x[t + 1]; every sequence is a sine of amplitude at most 1."""
    x, y = noisy_sine(50, 4, _gen(0), noise=0.0)
    np.testing.assert_array_equal(y[:-1], x[1:])
    assert np.abs(x).max() <= 1.0 and np.abs(x).max() > 0.9


def test_noisy_sine_noise_is_on_inputs_only():
    """With noise, targets stay clean (same as noise = 0 for the same seed) and x - clean has std noise."""
    T, B, noise = 400, 8, 0.1
    x, y = noisy_sine(T, B, _gen(1), noise=noise)
    x0, y0 = noisy_sine(T, B, _gen(1), noise=0.0)
    np.testing.assert_array_equal(y, y0)
    assert np.std(x - x0) == pytest.approx(noise, rel=0.05)


def test_noisy_sine_periods_in_range():
    """The period of each sequence (read off its upward zero crossings) lies within period_range."""
    x, _ = noisy_sine(400, 6, _gen(2), noise=0.0, period_range=(10.0, 20.0))
    for b in range(6):
        s = x[:, b, 0]
        ups = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
        period = (ups[-1] - ups[0]) / (len(ups) - 1)
        assert 9.5 <= period <= 20.5


# ----------------------------------------------------------------- optimisers


def test_sgd_step_exact_arithmetic():
    """p - lr * dp, exactly, for numbers that are exact in binary; inputs are not modified."""
    p = ReadoutParams(np.array([[1.0, -2.0]]), np.array([0.5]))
    g = ReadoutGrads(np.array([[0.25, 4.0]]), np.array([-1.0]))
    new = sgd_step(p, g, lr=0.5)
    assert type(new) is ReadoutParams
    np.testing.assert_array_equal(new.W_hy, [[0.875, -4.0]])
    np.testing.assert_array_equal(new.b_y, [1.0])
    np.testing.assert_array_equal(p.W_hy, [[1.0, -2.0]])


def test_sgd_keeps_float32():
    """A float32 container stays float32 after a step (the Python-float lr does not upcast)."""
    p = init_readout(3, 2, _gen(0), np.float32)
    new = sgd_step(p, ReadoutGrads(*(np.ones_like(a) for a in p)), lr=0.1)
    assert all(a.dtype == np.float32 for a in new)


def test_adam_first_step_is_lr_times_sign():
    """After bias correction the first Adam step is lr * g / (|g| + eps): about lr * sign(g)."""
    p = ReadoutParams(np.array([[1.0, -2.0, 3.0]]), np.array([0.0]))
    g = ReadoutGrads(np.array([[1e-3, -5.0, 0.0]]), np.array([2.0]))
    state = adam_init(p)
    assert state.step == 0 and all(np.all(m == 0) for m in state.m)
    new, state = adam_step(p, g, state, lr=0.1, eps=1e-8)
    assert state.step == 1
    for q, gi, pi in zip(new, g, p):
        np.testing.assert_allclose(q, pi - 0.1 * gi / (np.abs(gi) + 1e-8), rtol=1e-12, atol=0)


def _quadratic_problem(seed):
    """L(p) = 0.5 sum_i ||A_i * (p_i - c_i)||^2 with a diagonal scaling A; returns (p0, loss, grads)."""
    rng = _gen(seed)
    p0 = ReadoutParams(rng.standard_normal((3, 4)), rng.standard_normal(3))
    c = ReadoutParams(rng.standard_normal((3, 4)), rng.standard_normal(3))
    a = ReadoutParams(rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, 3))

    def loss(p):
        return 0.5 * sum(float(np.sum((ai * (pi - ci)) ** 2)) for pi, ci, ai in zip(p, c, a))

    def grads(p):
        return ReadoutGrads(*(ai**2 * (pi - ci) for pi, ci, ai in zip(p, c, a)))

    return p0, loss, grads


@pytest.mark.parametrize("optimiser", ["sgd", "adam"])
def test_optimisers_minimise_a_quadratic(optimiser):
    """200 steps bring a convex quadratic down by at least a factor 1e4, monotonically for SGD."""
    p, loss, grads = _quadratic_problem(0)
    start, state, history = loss(p), adam_init(p), []
    for _ in range(200):
        if optimiser == "sgd":
            p = sgd_step(p, grads(p), lr=0.2)
        else:
            p, state = adam_step(p, grads(p), state, lr=0.05)
        history.append(loss(p))
    assert history[-1] < 1e-4 * start
    if optimiser == "sgd":
        assert all(b <= a for a, b in zip(history, history[1:]))
