"""Time series: the Mackey-Glass integrator against an exact solution and against itself at half the step,
forecasting windows aligned to the horizon, and the classical baselines (persistence, least-squares AR)."""

from __future__ import annotations

import numpy as np
import pytest

from bpttlab.series import ar_fit, ar_predict, forecast_task, mackey_glass, multi_sine, persistence


def gen(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------- Mackey-Glass


def test_mackey_glass_is_reproducible_and_the_rng_changes_it():
    a, b = mackey_glass(300), mackey_glass(300)
    assert a.shape == (300,) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)  # no hidden randomness without rng
    c, d = mackey_glass(300, rng=gen(1)), mackey_glass(300, rng=gen(1))
    np.testing.assert_array_equal(c, d)
    e = mackey_glass(300, rng=gen(2))
    # a +-0.01 perturbation of the history gives a visibly different trajectory, one per seed
    assert np.abs(c - a).max() > 1e-3 and np.abs(c - e).max() > 1e-3


def test_mackey_glass_tau_17_stays_in_its_chaotic_band():
    """Bounded and positive; for tau = 17 the attractor lies in about [0.2, 1.4] and is not periodic."""
    x = mackey_glass(3000)
    assert np.all(np.isfinite(x)) and x.min() > 0.2 and x.max() < 1.4
    assert x.max() - x.min() > 0.7  # it explores the attractor, it does not settle
    # aperiodic: no lag up to 200 repeats the series (a periodic orbit would give a near-zero difference)
    gaps = [np.abs(x[lag:] - x[:-lag]).mean() for lag in range(5, 200)]
    assert min(gaps) > 0.01


def test_mackey_glass_samples_every_sample_every_time_units():
    """Sample j is the state at time j * sample_every: sampling every 2 picks every other unit sample."""
    fine = mackey_glass(200, discard=0)
    coarse = mackey_glass(100, sample_every=2.0, discard=0)
    np.testing.assert_array_equal(coarse, fine[::2])
    assert fine[0] == 1.2  # x0 at time 0, no transient dropped
    np.testing.assert_array_equal(mackey_glass(50, discard=30), mackey_glass(80, discard=0)[30:])


def test_rk4_matches_the_exact_solution_of_the_linear_case():
    """beta = 0 leaves dx/dt = -gamma x, so x(t) = x0 exp(-gamma t). Classical RK4 makes a relative error of
    about (gamma dt)^5 / 120 per step: at dt = 0.1, gamma = 0.1 over t = 200 that is 2000 * 8.3e-13 = 1.7e-9."""
    t = np.arange(200.0)
    x = mackey_glass(200, beta=0.0, gamma=0.1, discard=0, x0=1.2)
    exact = 1.2 * np.exp(-0.1 * t)
    assert np.abs(x / exact - 1).max() < 1e-8
    # and the error is that of a fourth-order method: halving dt divides it by 2^4 = 16
    err = [np.abs(mackey_glass(60, beta=0.0, discard=0, dt=dt) / exact[:60] - 1).max() for dt in (0.5, 0.25)]
    assert 14 < err[0] / err[1] < 18


def test_mackey_glass_converges_as_dt_shrinks():
    """Over a short horizon (60 time units from the constant history; chaos amplifies any difference
    over long ones) the solutions at dt = 0.1, 0.05 and 0.025 agree, and the differences shrink at
    least like dt^2 (the delayed value at half steps is interpolated linearly, a second-order step;
    a ratio of at least 3.5 per halving). At dt = 0.1 the observed difference is 1.3e-5, so its error
    is about 4/3 of that: the bound 1e-4 leaves a margin of 5."""
    x = {dt: mackey_glass(60, dt=dt, discard=0) for dt in (0.1, 0.05, 0.025)}
    d1 = np.abs(x[0.1] - x[0.05]).max()
    d2 = np.abs(x[0.05] - x[0.025]).max()
    assert d1 < 1e-4
    assert d1 / d2 > 3.5
    assert d1 > 0  # the step size matters at all: the comparison is not vacuous


# ----------------------------------------------------------------- multi-sine


def test_multi_sine_shape_seed_and_amplitude():
    a, b = multi_sine(50, 4, gen(3)), multi_sine(50, 4, gen(3))
    assert a.shape == (50, 4)
    np.testing.assert_array_equal(a, b)
    clean = multi_sine(400, 6, gen(3), n_components=3, noise=0.0)
    assert np.abs(clean).max() <= 1.0  # amplitudes at most 1 / n_components each
    assert clean.std() > 0.1


# ----------------------------------------------------------------- forecasting windows


@pytest.mark.parametrize("horizon", [1, 3])
def test_forecast_task_targets_are_the_value_horizon_steps_ahead(horizon):
    """With series[i] = i every value is its own index: x_t = i + t and y_t = i + t + horizon."""
    series = np.arange(200.0)
    task = forecast_task(series, 12, 64, gen(5), horizon=horizon, dtype=np.float64)
    assert task.x.shape == task.y.shape == (12, 64, 1) and task.loss == "mse"
    assert task.mask.shape == (12, 64) and np.all(task.mask == 1)
    start = task.x[0, :, 0]
    np.testing.assert_array_equal(task.x[:, :, 0], start[None] + np.arange(12)[:, None])
    np.testing.assert_array_equal(task.y, task.x + horizon)
    assert start.min() >= 0 and task.y.max() <= 199
    assert len(np.unique(start)) > 30  # random windows, not one


def test_forecast_task_on_a_series_exactly_long_enough():
    series = mackey_glass(40, discard=0)
    task = forecast_task(series, 38, 3, gen(0), horizon=2)
    assert task.x.dtype == np.float32
    for b in range(3):  # the only window there is
        np.testing.assert_array_equal(task.x[:, b, 0], series[:38].astype(np.float32))
        np.testing.assert_array_equal(task.y[:, b, 0], series[2:].astype(np.float32))


# ----------------------------------------------------------------- baselines


def test_persistence_predicts_the_current_value_in_a_new_array():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = persistence(x)
    np.testing.assert_array_equal(p, x)
    p[0, 0] = 99.0
    assert x[0, 0] == 1.0
    # on a forecasting window its error is the one-step change of the series: (i + 1)^2 - i^2 = 2 i + 1
    task = forecast_task(np.arange(50.0) ** 2, 5, 2, gen(1), dtype=np.float64)
    np.testing.assert_array_equal(task.y - persistence(task.x), 2 * np.sqrt(task.x) + 1)


def simulate_ar2(n, c, a1, a2, sigma, rng, burn=500):
    s = np.zeros(n + burn)
    noise = sigma * rng.standard_normal(n + burn)
    for t in range(2, n + burn):
        s[t] = c + a1 * s[t - 1] + a2 * s[t - 2] + noise[t]
    return s[burn:]


def test_ar_fit_recovers_the_coefficients_of_an_ar2_process():
    """Each estimate lies within 5 standard errors of the truth, the errors taken from the least-squares
    covariance sigma^2 (X^T X)^-1 of this sample; at n = 20000 they are below 0.02, so the check is tight."""
    true = np.array([0.5, 0.6, -0.3])
    s = simulate_ar2(20000, *true, sigma=0.5, rng=gen(8))
    coef = ar_fit(s, 2)
    assert coef.shape == (3,)
    X = np.column_stack([np.ones(len(s) - 2), s[1:-1], s[:-2]])
    residual = s[2:] - X @ coef
    se = np.sqrt(residual.var() * np.diag(np.linalg.inv(X.T @ X)))
    assert se.max() < 0.02
    assert np.all(np.abs(coef - true) < 5 * se)
    # the residual is the innovation: its standard deviation is sigma
    assert residual.std() == pytest.approx(0.5, rel=0.02)


def test_ar_fit_is_exact_on_a_noise_free_process():
    s = simulate_ar2(300, 0.2, 1.2, -0.5, sigma=0.0, rng=gen(0), burn=0)
    s[:2] = [1.0, -0.4]  # a start away from the fixed point so the lags are not collinear
    for t in range(2, len(s)):
        s[t] = 0.2 + 1.2 * s[t - 1] - 0.5 * s[t - 2]
    np.testing.assert_allclose(ar_fit(s[:60], 2), [0.2, 1.2, -0.5], atol=1e-6)


def test_ar_predict_closed_loop_equals_manual_iteration():
    rng = gen(4)
    coef = np.array([0.1, 0.5, -0.2, 0.3])  # c, a_1, a_2, a_3
    history = rng.standard_normal((4, 2, 7))
    out = ar_predict(coef, history, steps=6)
    assert out.shape == (4, 2, 6)
    for idx in np.ndindex(4, 2):
        window = list(history[idx])
        for s in range(6):
            nxt = coef[0] + coef[1] * window[-1] + coef[2] * window[-2] + coef[3] * window[-3]
            assert out[idx + (s,)] == pytest.approx(nxt, rel=1e-14, abs=1e-14)
            window.append(nxt)
    # steps = 1 is the one-step formula, and a 1-D history works too
    assert ar_predict(np.array([0.0, 0.5]), np.array([3.0, 2.0]), steps=3) == pytest.approx([1.0, 0.5, 0.25])


def test_ar_predict_continues_the_fitted_process():
    s = simulate_ar2(400, 0.2, 1.2, -0.5, sigma=0.0, rng=gen(0), burn=0)
    s[:2] = [1.0, -0.4]
    for t in range(2, len(s)):
        s[t] = 0.2 + 1.2 * s[t - 1] - 0.5 * s[t - 2]
    coef = ar_fit(s[:100], 2)
    np.testing.assert_allclose(ar_predict(coef, s[:100], steps=20), s[100:120], atol=1e-6)


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(n=0), ValueError, "n"),
        (dict(n=2.0), TypeError, "n"),
        (dict(tau=0.0), ValueError, "tau"),
        (dict(tau=float("nan")), ValueError, "tau"),
        (dict(dt=-0.1), ValueError, "dt"),
        (dict(dt=0.3), ValueError, "dt"),  # does not divide tau = 17
        (dict(sample_every=0.0), ValueError, "sample_every"),
        (dict(rng=1), TypeError, "rng"),
    ],
)
def test_mackey_glass_rejects_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=rf"^{name}: expected"):
        mackey_glass(**(dict(n=10) | kwargs))


def test_forecasting_functions_reject_bad_input():
    series = np.arange(30.0)
    with pytest.raises(ValueError, match=r"^series: expected a 1-D array"):
        forecast_task(series[:, None], 5, 2, gen())
    with pytest.raises(TypeError, match=r"^series: expected a numpy.ndarray"):
        forecast_task(list(series), 5, 2, gen())
    with pytest.raises(ValueError, match=r"^series: expected at least T \+ horizon = 33"):
        forecast_task(series, 30, 2, gen(), horizon=3)
    with pytest.raises(ValueError, match=r"^horizon: expected"):
        forecast_task(series, 5, 2, gen(), horizon=0)
    with pytest.raises(TypeError, match=r"^rng: expected"):
        forecast_task(series, 5, 2, None)
    with pytest.raises(ValueError, match=r"^series: expected more than 2p = 6"):
        ar_fit(series[:6], 3)
    with pytest.raises(ValueError, match=r"^series: expected a 1-D array"):
        ar_fit(series.reshape(5, 6), 1)
    with pytest.raises(ValueError, match=r"^p: expected"):
        ar_fit(series, 0)
    with pytest.raises(ValueError, match=r"^history: expected at least p = 3"):
        ar_predict(np.zeros(4), np.zeros(2))
    with pytest.raises(ValueError, match=r"^coef: expected"):
        ar_predict(np.zeros(1), np.zeros(5))
    with pytest.raises(ValueError, match=r"^coef: expected"):
        ar_predict(np.zeros((2, 3)), np.zeros(5))
    with pytest.raises(ValueError, match=r"^steps: expected"):
        ar_predict(np.zeros(3), np.zeros(5), steps=0)
    with pytest.raises(ValueError, match=r"^noise: expected"):
        multi_sine(5, 2, gen(), noise=-1.0)
    with pytest.raises(ValueError, match=r"^period_range: expected"):
        multi_sine(5, 2, gen(), period_range=(5.0, 2.0))
