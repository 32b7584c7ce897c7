"""Gradient clipping: global-norm clipping bounds the norm and keeps the direction; value clipping does not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab.clip import clip_by_global_norm, clip_by_value, global_norm
from bpttlab.numpy.seq import SeqGrads
from bpttlab.optim import leaves
from bpttlab.params import ReadoutGrads, RNNGrads

TOL = 1e-12


def flat(tree) -> np.ndarray:
    return np.concatenate([np.ravel(g).astype(np.float64) for g in leaves(tree)])


def cosine(a, b) -> float:
    fa, fb = flat(a), flat(b)
    return float(fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb)))


def same_structure(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same_structure(x, y)
    else:
        assert a.shape == b.shape and a.dtype == b.dtype


@st.composite
def grad_trees(draw, dtype=np.float64):
    """A flat RNNGrads, a nested SeqGrads or a plain tuple of arrays, entries of a random magnitude."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** draw(st.floats(-3, 3))
    D, H, O = (draw(st.integers(1, 5)) for _ in range(3))

    def arr(*shape):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    kind = draw(st.sampled_from(("rnn", "seq", "tuple")))
    cell = RNNGrads(arr(H, D), arr(H, H), arr(H))
    if kind == "rnn":
        return cell
    if kind == "seq":
        return SeqGrads(cell, ReadoutGrads(arr(O, H), arr(O)))
    return (arr(D), arr(H, O), arr(1))


thresholds = st.floats(1e-3, 1e3)


@settings(deadline=None, max_examples=150)
@given(g=grad_trees(), max_norm=thresholds)
def test_global_norm_clipping_bounds_the_norm_and_keeps_the_direction(g, max_norm):
    before = [a.copy() for a in leaves(g)]
    clipped, norm = clip_by_global_norm(g, max_norm)
    exact = float(np.linalg.norm(flat(g)))
    assert norm == pytest.approx(exact, rel=TOL)  # the norm returned is the one before clipping
    assert global_norm(g) == norm
    new = float(np.linalg.norm(flat(clipped)))
    assert new <= max_norm * (1.0 + TOL)
    assert cosine(clipped, g) == pytest.approx(1.0, abs=TOL)
    same_structure(clipped, g)
    if norm > max_norm:
        assert new == pytest.approx(max_norm, rel=TOL)
    else:
        for a, b in zip(leaves(clipped), leaves(g)):
            assert np.array_equal(a, b)
    for a, b in zip(leaves(g), before):  # the input is never changed in place
        assert np.array_equal(a, b)


@settings(deadline=None, max_examples=60)
@given(g=grad_trees(), factor=st.floats(1.0, 1e3))
def test_nothing_changes_at_or_below_the_threshold(g, factor):
    norm = global_norm(g)
    clipped, returned = clip_by_global_norm(g, norm * factor)
    assert returned == norm
    for a, b in zip(leaves(clipped), leaves(g)):
        assert np.array_equal(a, b)


@settings(deadline=None, max_examples=40)
@given(g=grad_trees(np.float32), max_norm=thresholds)
def test_global_norm_clipping_keeps_float32(g, max_norm):
    clipped, norm = clip_by_global_norm(g, max_norm)
    same_structure(clipped, g)
    assert global_norm(clipped) <= max_norm * (1.0 + 1e-6)  # float32 rounding of the scaled entries


@settings(deadline=None, max_examples=100)
@given(g=grad_trees(), clip_value=thresholds)
def test_value_clipping_bounds_every_entry(g, clip_value):
    clipped = clip_by_value(g, clip_value)
    same_structure(clipped, g)
    for a, b in zip(leaves(clipped), leaves(g)):
        assert np.all(np.abs(a) <= clip_value)
        inside = np.abs(b) <= clip_value
        assert np.array_equal(a[inside], b[inside])  # entries inside the box are untouched
        assert np.array_equal(a[~inside], np.sign(b[~inside]) * clip_value)


def test_value_clipping_changes_the_direction_and_global_norm_clipping_does_not():
    g = SeqGrads(
        RNNGrads(np.array([[3.0]]), np.array([[0.1]]), np.array([-0.2])),
        ReadoutGrads(np.array([[4.0]]), np.array([0.0])),
    )
    by_value = clip_by_value(g, 1.0)
    by_norm, norm = clip_by_global_norm(g, global_norm(by_value))
    assert norm == pytest.approx(np.sqrt(9 + 0.01 + 0.04 + 16))
    assert global_norm(by_norm) == pytest.approx(global_norm(by_value), rel=TOL)  # same length ...
    assert cosine(by_value, g) < 0.99  # ... but value clipping turned the gradient
    assert cosine(by_norm, g) == pytest.approx(1.0, abs=TOL)
    assert by_value.cell.dW_xh[0, 0] == 1.0 and by_value.readout.dW_hy[0, 0] == 1.0
    assert by_value.cell.dW_hh[0, 0] == 0.1  # small entries keep their size, so their share grows


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@settings(deadline=None, max_examples=20)
@given(data=st.data())
def test_non_finite_gradient_raises_naming_the_field_and_step(bad, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    g = SeqGrads(
        RNNGrads(rng.standard_normal((3, 2)), rng.standard_normal((3, 3)), rng.standard_normal(3)),
        ReadoutGrads(rng.standard_normal((1, 3)), rng.standard_normal(1)),
    )
    part = data.draw(st.sampled_from(("cell", "readout")))
    field = data.draw(st.sampled_from(getattr(g, part)._fields))
    leaf = getattr(getattr(g, part), field)
    leaf.flat[data.draw(st.integers(0, leaf.size - 1))] = bad
    step = data.draw(st.integers(0, 10_000))
    path = rf"grads\.{part}\.{field}"
    with pytest.raises(FloatingPointError, match=rf"{path}.*training step {step}\b"):
        clip_by_global_norm(g, 1.0, step=step)
    with pytest.raises(FloatingPointError, match=rf"{path}.*training step {step}\b"):
        clip_by_value(g, 1.0, step=step)
    with pytest.raises(FloatingPointError, match=path) as info:
        clip_by_global_norm(g, 1.0)
    assert "training step" not in str(info.value)


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, np.inf, -np.inf, np.nan])
def test_bad_thresholds_raise_naming_the_argument(bad):
    g = RNNGrads(np.ones((2, 2)), np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="^max_norm:"):
        clip_by_global_norm(g, bad)
    with pytest.raises(ValueError, match="^clip_value:"):
        clip_by_value(g, bad)


def test_global_norm_of_a_known_container():
    g = SeqGrads(
        RNNGrads(np.array([[3.0]]), np.zeros((1, 1)), np.zeros(1)), ReadoutGrads(np.array([[4.0]]), np.zeros(1))
    )
    assert global_norm(g) == 5.0
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == 5.0
    assert clipped.cell.dW_xh[0, 0] == pytest.approx(0.6) and clipped.readout.dW_hy[0, 0] == pytest.approx(0.8)


@pytest.mark.parametrize("scale", [1e150, 1e200, 1e300])
def test_a_norm_beyond_float64_still_clips_to_max_norm(scale):
    """Entries so large that the sum of squares overflows: the true norm is found by rescaling, and the
    clipped gradient has norm max_norm and the same direction (not zeros, not NaN)."""
    g = RNNGrads(np.array([[3.0, 0.0]]) * scale, np.array([[4.0]]) * scale, np.zeros(1))
    assert global_norm(g) == pytest.approx(5.0 * scale, rel=1e-15)
    clipped, norm = clip_by_global_norm(g, 2.0)
    assert norm == pytest.approx(5.0 * scale, rel=1e-15)
    np.testing.assert_allclose(clipped.dW_xh, [[1.2, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(clipped.dW_hh, [[1.6]], rtol=1e-15)
    assert global_norm(clipped) == pytest.approx(2.0, rel=1e-15)


def test_a_norm_above_the_float64_range_is_inf_and_clipping_still_works():
    g = RNNGrads(np.full((2, 2), 1.5e308), np.full((1, 1), 1.5e308), np.zeros(1))
    assert global_norm(g) == np.inf
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == np.inf
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(clipped.dW_xh, np.full((2, 2), 1 / np.sqrt(5)), rtol=1e-15)
