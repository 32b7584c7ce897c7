"""RTRL gives BPTT's gradient without a backward pass; UORO's rank-one estimate is unbiased."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support import ACTIVATIONS, TOL_LOOP, TOL_OTHER_ALGORITHM, TOL_REASSOCIATED

from bpttlab import init, rel_error
from bpttlab.numpy import rnn
from bpttlab.numpy.rtrl import rtrl_grads, uoro_grads
from bpttlab.params import RNNGrads


def _problem(seed: int, T: int, B: int, D: int, H: int):
    rng = np.random.default_rng(seed)
    params = init.init_rnn(D, H, rng)._replace(b_h=0.1 * rng.standard_normal(H))
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    dhs = rng.standard_normal((T, B, H))
    return x, h0, params, dhs


def _flat(g: RNNGrads) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in g])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [(1, 1, 1, 1), (1, 3, 2, 4), (9, 2, 3, 5), (40, 3, 2, 6)], ids=str)
def test_rtrl_equals_bptt(activation, sizes):
    x, h0, params, dhs = _problem(sum(sizes), *sizes)
    hs, cache = rnn.forward(x, h0, params, activation)
    _, dh0, grads = rnn.backward(dhs, cache)
    result = rtrl_grads(x, h0, params, dhs, activation)
    assert np.array_equal(result.hs, hs)
    for name, ours, theirs in zip(grads._fields, result.grads, grads):
        assert rel_error(ours, theirs) < TOL_OTHER_ALGORITHM, name
    assert rel_error(result.dh0, dh0) < TOL_OTHER_ALGORITHM


def test_rtrl_sees_only_the_past():
    # the gradient accumulated after t steps is the gradient of the first t losses
    x, h0, params, dhs = _problem(3, 12, 2, 2, 3)
    full = rtrl_grads(x, h0, params, dhs)
    cut = dhs.copy()
    cut[6:] = 0.0
    first = rtrl_grads(x, h0, params, cut)
    _, cache = rnn.forward(x, h0, params)
    _, _, bptt_first = rnn.backward(cut, cache)
    assert rel_error(_flat(first.grads), _flat(bptt_first)) < TOL_OTHER_ALGORITHM
    assert rel_error(_flat(first.grads), _flat(full.grads)) > 1e-3


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("T, H", [(3, 2), (2, 3)])
def test_uoro_expectation_over_every_sign_pattern_is_the_exact_gradient(activation, T, H):
    x, h0, params, dhs = _problem(7 + T, T, 1, 2, H)
    exact = _flat(rtrl_grads(x, h0, params, dhs, activation).grads)
    patterns = list(itertools.product((-1.0, 1.0), repeat=T * H))
    total = np.zeros_like(exact)
    for bits in patterns:
        signs = np.array(bits).reshape(T, 1, H)
        total += _flat(uoro_grads(x, h0, params, dhs, np.random.default_rng(0), activation, signs=signs).grads)
    mean = total / len(patterns)
    assert rel_error(mean, exact) < TOL_REASSOCIATED  # 64 terms: the exact identity up to rounding
    one = _flat(uoro_grads(x, h0, params, dhs, np.random.default_rng(0), activation).grads)
    assert rel_error(one, exact) > 1e-3  # a single draw is an estimate, not the gradient


def test_uoro_drawn_signs_are_the_ones_it_reports_reproducibly():
    x, h0, params, dhs = _problem(11, 6, 2, 2, 3)
    T, B, H = dhs.shape
    a = uoro_grads(x, h0, params, dhs, np.random.default_rng(5))
    draw = np.random.default_rng(5)
    signs = np.stack([draw.integers(0, 2, size=(B, H)) * 2 - 1 for _ in range(T)]).astype(float)
    b = uoro_grads(x, h0, params, dhs, np.random.default_rng(0), signs=signs)
    assert np.array_equal(_flat(a.grads), _flat(b.grads))
    assert np.array_equal(a.hs, rnn.forward(x, h0, params)[0])


def test_uoro_monte_carlo_mean_approaches_the_gradient():
    # one example repeated R times: R independent estimates in one call
    x, h0, params, dhs = _problem(13, 8, 1, 2, 4)
    exact = _flat(rtrl_grads(x, h0, params, dhs).grads)
    errors = {}
    for R in (500, 20_000):
        est = uoro_grads(
            np.repeat(x, R, axis=1),
            np.repeat(h0, R, axis=0),
            params,
            np.repeat(dhs, R, axis=1),
            np.random.default_rng(R),
        )
        errors[R] = rel_error(_flat(est.grads) / R, exact)
    assert errors[20_000] < 0.1
    assert errors[20_000] < errors[500]


def test_bad_input_is_named():
    x, h0, params, dhs = _problem(1, 4, 2, 2, 3)
    with pytest.raises(ValueError, match="^activation"):
        rtrl_grads(x, h0, params, dhs, "bogus")
    with pytest.raises(ValueError, match="^dhs"):
        rtrl_grads(x, h0, params, dhs[:, :, :2])
    with pytest.raises(FloatingPointError, match="^dhs.*time step 2"):
        rtrl_grads(x, h0, params, np.where(np.arange(4)[:, None, None] == 2, np.nan, dhs))
    with pytest.raises(TypeError, match="^rng"):
        uoro_grads(x, h0, params, dhs, 0)
    with pytest.raises(ValueError, match="^signs"):
        uoro_grads(x, h0, params, dhs, np.random.default_rng(0), signs=np.zeros(dhs.shape))
    with pytest.raises(ValueError, match="^h0"):
        uoro_grads(x, h0[:1], params, dhs, np.random.default_rng(0))


# ----------------------------------------------------------------- the step-by-step form, for online learning


def _looped(method, x, h0, params, dhs, rng=None, activation="tanh"):
    from bpttlab.numpy.rtrl import online_grads, online_start, rtrl_step, uoro_step

    carry = online_start(h0, params, method)
    total = np.zeros(sum(a.size for a in params))
    hs = []
    for t in range(x.shape[0]):
        if method == "rtrl":
            carry = rtrl_step(x[t], carry, params, activation)
        else:
            carry = uoro_step(x[t], carry, params, rng, activation)
        hs.append(carry.h)
        total += _flat(online_grads(dhs[t], carry))
    return np.stack(hs), total


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_rtrl_step_looped_is_rtrl_grads(activation):
    x, h0, params, dhs = _problem(21, 11, 3, 2, 4)
    hs, total = _looped("rtrl", x, h0, params, dhs, activation=activation)
    whole = rtrl_grads(x, h0, params, dhs, activation)
    assert rel_error(hs, whole.hs) < TOL_LOOP
    assert rel_error(total, _flat(whole.grads)) < TOL_LOOP


def test_uoro_step_looped_with_one_generator_is_uoro_grads():
    x, h0, params, dhs = _problem(22, 10, 2, 3, 4)
    hs, total = _looped("uoro", x, h0, params, dhs, rng=np.random.default_rng(9))
    whole = uoro_grads(x, h0, params, dhs, np.random.default_rng(9))
    assert rel_error(hs, whole.hs) < TOL_LOOP
    assert rel_error(total, _flat(whole.grads)) < TOL_LOOP
    other = _looped("uoro", x, h0, params, dhs, rng=np.random.default_rng(10))[1]
    assert rel_error(other, total) > 1e-3  # other signs, another estimate


def test_rtrl_step_carries_the_sensitivity_across_a_change_of_parameters():
    # with the parameters changed after step 4, the sensitivity of later steps still holds the
    # earlier steps under the old parameters: it is not the sensitivity of a fresh run
    from bpttlab.numpy.rtrl import online_start, rtrl_step

    x, h0, params, _ = _problem(23, 8, 1, 2, 3)
    changed = params._replace(W_hh=params.W_hh * 0.5)
    carry = online_start(h0, params)
    for t in range(8):
        carry = rtrl_step(x[t], carry, params if t < 4 else changed)
    fresh = online_start(h0, changed)
    for t in range(8):
        fresh = rtrl_step(x[t], fresh, changed)
    assert rel_error(carry.P_hh, fresh.P_hh) > 1e-3
    assert np.all(np.isfinite(carry.P_hh))


def test_online_bad_input_is_named():
    from bpttlab.numpy.rtrl import online_grads, online_start, rtrl_step, uoro_step

    x, h0, params, dhs = _problem(2, 4, 2, 2, 3)
    with pytest.raises(ValueError, match="^method"):
        online_start(h0, params, "bptt")
    with pytest.raises(TypeError, match="^h0"):
        online_start(h0.tolist(), params)
    with pytest.raises(ValueError, match="^h0"):
        online_start(h0[:, :2], params)
    carry = online_start(h0, params)
    with pytest.raises(TypeError, match="^carry: expected a RTRLCarry"):
        rtrl_step(x[0], online_start(h0, params, "uoro"), params)
    with pytest.raises(TypeError, match="^carry: expected a UOROCarry"):
        uoro_step(x[0], carry, params, np.random.default_rng(0))
    with pytest.raises(ValueError, match="^carry.P_hh"):
        rtrl_step(x[0], carry._replace(P_hh=carry.P_hh[:, :2]), params)
    with pytest.raises(ValueError, match="^params.W_xh"):
        rtrl_step(x[0][:, :1], carry, params)
    with pytest.raises(ValueError, match="^activation"):
        rtrl_step(x[0], carry, params, "bogus")
    with pytest.raises(TypeError, match="^rng"):
        uoro_step(x[0], online_start(h0, params, "uoro"), params, 0)
    with pytest.raises(ValueError, match="^dh_t"):
        online_grads(dhs[0][:, :2], carry)
    with pytest.raises(FloatingPointError, match="^dh_t"):
        online_grads(np.full_like(dhs[0], np.nan), carry)
    with pytest.raises(TypeError, match="^carry"):
        online_grads(dhs[0], (carry.h,))
