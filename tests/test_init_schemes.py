"""Recurrent initialisation schemes: gaussian, orthogonal, identity, and rescaling to a spectral radius."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab.init import RECURRENT_SCHEMES, init_rnn, orthogonal, spectral_radius

sizes = st.integers(1, 12)
seeds = st.integers(0, 2**32 - 1)


@settings(deadline=None, max_examples=40)
@given(seed=seeds, D=sizes, H=sizes, scale=st.floats(0.1, 3.0))
def test_orthogonal_scheme_is_orthogonal(seed, D, H, scale):
    p = init_rnn(D, H, np.random.default_rng(seed), scheme="orthogonal", recurrent_scale=scale)
    W = p.W_hh / scale
    np.testing.assert_allclose(W.T @ W, np.eye(H), rtol=0, atol=1e-12)
    np.testing.assert_allclose(W @ W.T, np.eye(H), rtol=0, atol=1e-12)
    assert spectral_radius(p.W_hh) == pytest.approx(scale, rel=1e-10)  # every eigenvalue has modulus `scale`
    assert np.linalg.norm(p.W_hh, ord=2) == pytest.approx(scale, rel=1e-12)


@settings(deadline=None, max_examples=30)
@given(seed=seeds, H=sizes)
def test_orthogonal_helper(seed, H):
    Q = orthogonal(np.random.default_rng(seed), H)
    assert Q.shape == (H, H) and Q.dtype == np.float64
    np.testing.assert_allclose(Q.T @ Q, np.eye(H), rtol=0, atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 0.5, 1.7])
def test_identity_scheme_is_scaled_identity(scale):
    p = init_rnn(3, 6, np.random.default_rng(0), scheme="identity", recurrent_scale=scale)
    assert np.array_equal(p.W_hh, scale * np.eye(6))
    assert np.array_equal(p.b_h, np.zeros(6))


def test_gaussian_scheme_has_variance_scale_squared_over_H():
    H, scale = 400, 1.5
    p = init_rnn(2, H, np.random.default_rng(1), scheme="gaussian", recurrent_scale=scale)
    # 160000 entries: the sample variance is within a few percent of scale**2 / H
    assert p.W_hh.var() * H == pytest.approx(scale**2, rel=0.03)
    assert spectral_radius(p.W_hh) == pytest.approx(scale, rel=0.1)  # circular law, large H


@pytest.mark.parametrize("scheme", RECURRENT_SCHEMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_seeds_reproduce_exactly(scheme, dtype):
    a = init_rnn(4, 5, np.random.default_rng(123), dtype, scheme=scheme)
    b = init_rnn(4, 5, np.random.default_rng(123), dtype, scheme=scheme)
    c = init_rnn(4, 5, np.random.default_rng(124), dtype, scheme=scheme)
    for x, y in zip(a, b):
        assert x.dtype == dtype
        assert np.array_equal(x, y)
    assert not np.array_equal(a.W_xh, c.W_xh)
    if scheme != "identity":
        assert not np.array_equal(a.W_hh, c.W_hh)


@pytest.mark.parametrize("scheme", RECURRENT_SCHEMES)
@pytest.mark.parametrize("radius", [0.5, 1.0, 1.3])
def test_radius_argument_sets_the_spectral_radius(scheme, radius):
    p = init_rnn(3, 7, np.random.default_rng(2), scheme=scheme, radius=radius)
    assert spectral_radius(p.W_hh) == pytest.approx(radius, rel=1e-10)


@pytest.mark.parametrize("bad", ["Orthogonal", "xavier", ""])
def test_bad_scheme_raises_naming_scheme(bad):
    with pytest.raises(ValueError, match="^scheme:"):
        init_rnn(3, 4, np.random.default_rng(0), scheme=bad)


@pytest.mark.parametrize("bad", [None, 1])
def test_a_scheme_that_is_not_a_str_is_a_type_error(bad):
    with pytest.raises(TypeError, match=r"^scheme: expected one of \['gaussian', 'orthogonal', 'identity'\] \(a str\)"):
        init_rnn(3, 4, np.random.default_rng(0), scheme=bad)


def test_identity_with_radius_zero_scale_is_rejected():
    with pytest.raises(ValueError, match="^W:"):
        init_rnn(3, 4, np.random.default_rng(0), scheme="identity", recurrent_scale=0.0, radius=1.0)


def test_bad_generator_raises_naming_rng():
    with pytest.raises(TypeError, match="^rng:"):
        init_rnn(3, 4, 0, scheme="orthogonal")
