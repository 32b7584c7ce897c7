"""Long-lag tasks: the adding problem, the copy task, temporal order, and the numbers of their baselines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab import tasks
from bpttlab.numpy import seq

seeds = st.integers(0, 2**32 - 1)


# ----------------------------------------------------------------- adding problem


@settings(deadline=None, max_examples=40)
@given(seed=seeds, T=st.integers(2, 60), B=st.integers(1, 6))
def test_adding_problem_layout(seed, T, B):
    b = tasks.adding_problem(T, B, np.random.default_rng(seed))
    assert b.x.shape == (T, B, 2) and b.y.shape == (T, B, 1) and b.mask.shape == (T, B) and b.loss == "mse"
    values, markers = b.x[..., 0], b.x[..., 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(markers)) <= {0.0, 1.0}
    half = T // 2
    assert np.all(markers[:half].sum(axis=0) == 1)  # exactly one marker in the first half ...
    assert np.all(markers[half:].sum(axis=0) == 1)  # ... and one in the second
    np.testing.assert_allclose(b.y[-1, :, 0], (values * markers).sum(axis=0), rtol=0, atol=1e-15)
    assert np.all(b.y[:-1] == 0)
    expected_mask = np.zeros((T, B))
    expected_mask[-1] = 1
    assert np.array_equal(b.mask, expected_mask)


def test_adding_problem_is_reproducible_with_a_seed():
    a = tasks.adding_problem(20, 4, np.random.default_rng(5))
    c = tasks.adding_problem(20, 4, np.random.default_rng(5))
    for u, v in zip(a[:3], c[:3]):
        assert np.array_equal(u, v)


def _classic_adding_problem(T, B, rng):
    """The layout before ``window`` existed, written out: every default call must match it bit for bit."""
    values = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, T // 2, size=B)
    second = rng.integers(T // 2, T, size=B)
    markers = np.zeros((T, B))
    markers[first, np.arange(B)] = 1.0
    markers[second, np.arange(B)] = 1.0
    y = np.zeros((T, B, 1))
    y[-1, :, 0] = values[first, np.arange(B)] + values[second, np.arange(B)]
    return np.stack([values, markers], axis=-1), y


@settings(deadline=None, max_examples=40)
@given(seed=seeds, T=st.integers(2, 60), B=st.integers(1, 6))
def test_adding_problem_default_and_full_window_keep_the_classic_draws(seed, T, B):
    x_old, y_old = _classic_adding_problem(T, B, np.random.default_rng(seed))
    for kwargs in ({}, {"window": None}, {"window": T}):
        b = tasks.adding_problem(T, B, np.random.default_rng(seed), **kwargs)
        assert np.array_equal(b.x, x_old) and np.array_equal(b.y, y_old), kwargs


@settings(deadline=None, max_examples=60)
@given(seed=seeds, T=st.integers(2, 120), window=st.integers(2, 120), B=st.integers(1, 6))
def test_adding_problem_window_puts_both_markers_in_the_last_steps(seed, T, window, B):
    window = min(window, T)
    b = tasks.adding_problem(T, B, np.random.default_rng(seed), window=window)
    assert b.x.shape == (T, B, 2) and b.y.shape == (T, B, 1) and b.mask.shape == (T, B)
    values, markers = b.x[..., 0], b.x[..., 1]
    start, middle = T - window, T - window + window // 2
    assert np.all(markers[:start] == 0)  # nothing before the window
    assert np.all(markers[start:middle].sum(axis=0) == 1)  # one marker in each half of the window
    assert np.all(markers[middle:].sum(axis=0) == 1)
    first = np.argmax(markers, axis=0)
    assert np.all(T - 1 - first < window)  # the lag to the answer step is below the window
    np.testing.assert_allclose(b.y[-1, :, 0], (values * markers).sum(axis=0), rtol=0, atol=1e-15)
    assert np.all(b.y[:-1] == 0) and np.all(b.mask[-1] == 1) and np.all(b.mask[:-1] == 0)


def test_adding_problem_window_uses_every_position_of_the_window():
    b = tasks.adding_problem(50, 4000, np.random.default_rng(4), window=6)
    where = [set(np.flatnonzero(col)) for col in b.x[..., 1].T]
    assert set().union(*where) == set(range(44, 50))
    assert {min(w) for w in where} == {44, 45, 46} and {max(w) for w in where} == {47, 48, 49}


def test_adding_baseline_by_monte_carlo():
    """Always answering 1: MSE 1/6 and accuracy 2(0.04) - 0.04^2, checked on 400 000 seeded sequences."""
    N = 400_000
    b = tasks.adding_problem(2, N, np.random.default_rng(2024))
    base = tasks.adding_baseline()
    assert base.loss == pytest.approx(1 / 6, rel=1e-15)
    assert base.accuracy == pytest.approx(0.0784, rel=1e-12)
    ys = np.ones_like(b.y)
    loss, _ = seq.masked_loss(ys, b.y, b.mask, "mse")
    acc = seq.accuracy(ys, b, tasks.ADDING_TOLERANCE)
    # standard errors: sqrt(Var((S-1)^2) / N) = sqrt((1/15 - 1/36) / N), sqrt(p (1 - p) / N)
    se_loss = np.sqrt((1 / 15 - 1 / 36) / N)
    se_acc = np.sqrt(base.accuracy * (1 - base.accuracy) / N)
    assert abs(loss - base.loss) < 5 * se_loss
    assert abs(acc - base.accuracy) < 5 * se_acc
    # and answering anything else constant does worse on average
    assert seq.masked_loss(ys * 0.9, b.y, b.mask, "mse")[0] > loss


# ----------------------------------------------------------------- copy task


@settings(deadline=None, max_examples=40)
@given(seed=seeds, delay=st.integers(1, 15), length=st.integers(1, 6), n_symbols=st.integers(2, 9), B=st.integers(1, 4))
def test_copy_task_layout(seed, delay, length, n_symbols, B):
    b = tasks.copy_task(delay, B, np.random.default_rng(seed), length=length, n_symbols=n_symbols)
    T = 2 * length + delay
    C = n_symbols + 2
    assert b.x.shape == (T, B, C) and b.y.shape == (T, B) and b.mask.shape == (T, B) and b.loss == "xent"
    assert np.issubdtype(b.y.dtype, np.integer)
    assert np.all(b.x.sum(axis=-1) == 1)  # one-hot
    inputs = b.x.argmax(axis=-1)
    data = inputs[:length]
    assert np.all((data >= 1) & (data <= n_symbols))  # data at the start
    go = length + delay - 1
    assert np.all(inputs[go] == n_symbols + 1)  # the go marker, at the last step of the delay
    others = np.delete(np.arange(T), list(range(length)) + [go])
    assert np.all(inputs[others] == 0)  # blank everywhere else
    assert np.array_equal(b.y[-length:], data)  # labels at the end reproduce the data
    assert np.all(b.y[:-length] == 0)
    expected_mask = np.zeros((T, B))
    expected_mask[-length:] = 1
    assert np.array_equal(b.mask, expected_mask)


def test_copy_baseline():
    """A uniform guess among the data symbols: cross-entropy log n exactly, accuracy 1/n by Monte Carlo."""
    n = 6
    base = tasks.copy_baseline(n)
    assert base.loss == pytest.approx(np.log(n), rel=1e-15) and base.accuracy == pytest.approx(1 / n)
    b = tasks.copy_task(3, 50_000, np.random.default_rng(7), length=4, n_symbols=n)
    logits = np.zeros(b.x.shape)
    logits[..., [0, n + 1]] = -1e4  # never blank, never go: uniform over the data symbols
    loss, _ = seq.masked_loss(logits, b.y, b.mask, "xent")
    assert loss == pytest.approx(base.loss, rel=1e-12)
    constant = seq.accuracy(logits, b)  # argmax of a tie is symbol 1: right 1/n of the time
    se = np.sqrt(base.accuracy * (1 - base.accuracy) / (4 * 50_000))
    assert abs(constant - base.accuracy) < 5 * se


# ----------------------------------------------------------------- temporal order


@settings(deadline=None, max_examples=60)
@given(seed=seeds, T=st.integers(10, 120), B=st.integers(1, 8))
def test_temporal_order_layout(seed, T, B):
    b = tasks.temporal_order(T, B, np.random.default_rng(seed))
    assert b.x.shape == (T, B, 6) and b.y.shape == (T, B) and b.loss == "xent"
    assert np.all(b.x.sum(axis=-1) == 1)
    symbols = b.x.argmax(axis=-1)
    for col in range(B):
        where = np.flatnonzero(symbols[:, col] >= 4)  # X = 4, Y = 5; distractors are 0..3
        assert len(where) == 2
        t1, t2 = where
        assert 0.1 * T <= t1 < 0.2 * T, (T, t1)  # the stated windows [0.1 T, 0.2 T) and [0.5 T, 0.6 T)
        assert 0.5 * T <= t2 < 0.6 * T, (T, t2)
        first, second = symbols[t1, col] - 4, symbols[t2, col] - 4
        assert b.y[-1, col] == 2 * first + second  # XX, XY, YX, YY = 0, 1, 2, 3
    assert np.all(b.y[:-1] == 0)
    expected_mask = np.zeros((T, B))
    expected_mask[-1] = 1
    assert np.array_equal(b.mask, expected_mask)


def test_temporal_order_uses_every_class_and_position():
    b = tasks.temporal_order(30, 4000, np.random.default_rng(3))
    assert set(np.unique(b.y[-1])) == {0, 1, 2, 3}
    symbols = b.x.argmax(axis=-1)
    t1 = np.argmax(symbols[:15] >= 4, axis=0)
    assert set(np.unique(t1)) == {3, 4, 5}  # every step of [3, 6)


def test_temporal_order_baseline():
    base = tasks.temporal_order_baseline()
    assert base.loss == pytest.approx(np.log(4), rel=1e-15) and base.accuracy == 0.25
    N = 100_000
    b = tasks.temporal_order(10, N, np.random.default_rng(11))
    ys = np.zeros((10, N, 4))
    assert seq.masked_loss(ys, b.y, b.mask, "xent")[0] == pytest.approx(base.loss, rel=1e-12)
    se = np.sqrt(0.25 * 0.75 / N)
    assert abs(seq.accuracy(ys, b) - 0.25) < 5 * se  # a constant guess is right a quarter of the time


# ----------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda r: tasks.adding_problem(1, 2, r), ValueError, "T"),
        (lambda r: tasks.adding_problem(0, 2, r), ValueError, "T"),
        (lambda r: tasks.adding_problem(10, 0, r), ValueError, "B"),
        (lambda r: tasks.adding_problem(10.0, 2, r), TypeError, "T"),
        (lambda r: tasks.adding_problem(10, 2, 0), TypeError, "rng"),
        (lambda r: tasks.adding_problem(10, 2, np.random.RandomState(0)), TypeError, "rng"),
        (lambda r: tasks.adding_problem(10, 2, r, window=1), ValueError, "window"),
        (lambda r: tasks.adding_problem(10, 2, r, window=11), ValueError, "window"),
        (lambda r: tasks.adding_problem(10, 2, r, window=0), ValueError, "window"),
        (lambda r: tasks.adding_problem(10, 2, r, window=5.0), TypeError, "window"),
        (lambda r: tasks.copy_task(0, 2, r), ValueError, "delay"),
        (lambda r: tasks.copy_task(3, 2, r, n_symbols=1), ValueError, "n_symbols"),
        (lambda r: tasks.copy_task(3, 2, r, length=0), ValueError, "length"),
        (lambda r: tasks.copy_task(3, 2, None), TypeError, "rng"),
        (lambda r: tasks.temporal_order(9, 2, r), ValueError, "T"),
        (lambda r: tasks.temporal_order(20, 2, 42), TypeError, "rng"),
        (lambda r: tasks.copy_baseline(0), ValueError, "n_symbols"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call, error, name):
    with pytest.raises(error, match=rf"^{name}:"):
        call(np.random.default_rng(0))
