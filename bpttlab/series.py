"""Seeded time series and the classical baselines for forecasting them.

- ``mackey_glass``: the chaotic delay differential equation of Mackey & Glass (1977),
  dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t), integrated here with
  the classical Runge-Kutta method on a fixed grid (the delayed value at half steps is
  the average of its neighbours on the grid).
- ``multi_sine``: sums of sines with random periods, phases and amplitudes, plus noise.
- ``forecast_task``: random windows of a series as a TaskBatch (predict ``horizon`` ahead).
- ``persistence`` and a least-squares linear autoregressive model (``ar_fit``, ``ar_predict``).
"""

from __future__ import annotations

from typing import cast

import numpy as np

from bpttlab._checks import (
    check_dtype_arg,
    check_finite,
    check_generator,
    check_int,
    check_interval,
    check_number,
    check_optional,
    check_positive_int,
    check_real_array,
    check_type,
)
from bpttlab.tasks import TaskBatch


def _series(name: str, value: object, ndim: int | None = 1) -> np.ndarray:
    """A finite NumPy array of real numbers (int or float) with ``ndim`` axes (at least 1 when None)."""
    check_type(name, value, np.ndarray, "a numpy.ndarray of real numbers")
    value = cast(np.ndarray, value)  # check_type raised unless it is one
    check_real_array(name, value)
    if (ndim is not None and value.ndim != ndim) or value.ndim == 0:
        want = f"a {ndim}-D array" if ndim else "an array with at least 1 axis"
        raise ValueError(f"{name}: expected {want}, got shape {value.shape}")
    check_finite(name, value)
    return value


def mackey_glass(
    n: int,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    power: float = 10.0,
    dt: float = 0.1,
    sample_every: float = 1.0,
    x0: float = 1.2,
    discard: int = 500,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """n samples of the Mackey-Glass series, one every ``sample_every`` time units. (n,) float64.

    The history before time 0 is constant x0 (plus uniform noise of +-0.01 if ``rng`` is
    given, for a different trajectory per seed); the first ``discard`` samples (the
    transient) are dropped. tau = 17 gives the classic chaotic regime.
    """
    n = check_positive_int("n", n)
    check_optional(check_generator, "rng", rng)
    tau, dt, sample_every = (
        check_number(name, value, positive=True)
        for name, value in (("tau", tau), ("dt", dt), ("sample_every", sample_every))
    )
    beta, gamma, power, x0 = (
        check_number(name, value) for name, value in (("beta", beta), ("gamma", gamma), ("power", power), ("x0", x0))
    )
    discard = check_int("discard", discard, 0)
    lag = int(round(tau / dt))
    stride = int(round(sample_every / dt))
    if abs(lag * dt - tau) > 1e-9 or abs(stride * dt - sample_every) > 1e-9:
        raise ValueError(f"dt: expected a step that divides tau = {tau} and sample_every = {sample_every}, got {dt}")
    total = (n + discard) * stride
    x = np.empty(lag + total + 1)
    x[: lag + 1] = x0
    if rng is not None:
        x[: lag + 1] += rng.uniform(-0.01, 0.01, size=lag + 1)

    def f(xt: float, xd: float) -> float:
        return beta * xd / (1.0 + xd**power) - gamma * xt

    for i in range(lag, lag + total):
        xd0, xd1 = x[i - lag], x[i - lag + 1]
        xdh = 0.5 * (xd0 + xd1)
        k1 = f(x[i], xd0)
        k2 = f(x[i] + 0.5 * dt * k1, xdh)
        k3 = f(x[i] + 0.5 * dt * k2, xdh)
        k4 = f(x[i] + dt * k3, xd1)
        x[i + 1] = x[i] + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6.0
    samples = x[lag::stride][: n + discard]
    if not np.all(np.isfinite(samples)):
        raise FloatingPointError(
            f"x0, beta, gamma, power: the integration became non-finite at sample "
            f"{int(np.argmax(~np.isfinite(samples))) - discard} (for example a negative delayed value to a fractional power)"
        )
    return samples[discard:].copy()


def multi_sine(
    T: int,
    B: int,
    rng: np.random.Generator,
    n_components: int = 3,
    noise: float = 0.1,
    period_range: tuple[float, float] = (6.0, 40.0),
) -> np.ndarray:
    """B noisy sums of ``n_components`` sines with random periods (steps), phases and amplitudes. (T, B)."""
    T, B, n_components = (check_positive_int(k, v) for k, v in (("T", T), ("B", B), ("n_components", n_components)))
    check_generator("rng", rng)
    noise = check_number("noise", noise, nonnegative=True)
    lo, hi = check_interval("period_range", period_range)
    period = rng.uniform(lo, hi, size=(n_components, B))
    phase = rng.uniform(0, 2 * np.pi, size=(n_components, B))
    amp = rng.uniform(0.5, 1.0, size=(n_components, B)) / n_components
    t = np.arange(T)[:, None, None]
    clean = (amp * np.sin(2 * np.pi * t / period + phase)).sum(axis=1)
    return clean + noise * rng.standard_normal((T, B))


def forecast_task(
    series: np.ndarray, T: int, B: int, rng: np.random.Generator, horizon: int = 1, dtype: object = np.float32
) -> TaskBatch:
    """B random windows of a 1-D series: x_t = s[i + t], target s[i + t + horizon], t < T. x, y (T, B, 1)."""
    _series("series", series)
    T, B, horizon = check_positive_int("T", T), check_positive_int("B", B), check_positive_int("horizon", horizon)
    check_generator("rng", rng)
    dtype = check_dtype_arg("dtype", dtype)
    if len(series) < T + horizon:
        raise ValueError(f"series: expected at least T + horizon = {T + horizon} values, got {len(series)}")
    starts = rng.integers(0, len(series) - T - horizon + 1, size=B)
    idx = starts[None, :] + np.arange(T)[:, None]
    x = series[idx][..., None]
    y = series[idx + horizon][..., None]
    return TaskBatch(x.astype(dtype), y.astype(dtype), np.ones((T, B), dtype=dtype), "mse")


def persistence(x: np.ndarray) -> np.ndarray:
    """The persistence forecast: predict that the next value equals the current one. x: a finite real array (a copy is returned)."""
    _series("x", x, None)
    return np.array(x, copy=True)


def ar_fit(series: np.ndarray, p: int, ridge: float = 1e-8) -> np.ndarray:
    """Least-squares AR(p) coefficients [c, a_1, ..., a_p] for s_t = c + sum_k a_k s_{t-k}. (p + 1,)."""
    _series("series", series)
    p = check_positive_int("p", p)
    ridge = check_number("ridge", ridge, nonnegative=True)
    if len(series) <= 2 * p:
        raise ValueError(f"series: expected more than 2p = {2 * p} values to fit AR({p}), got {len(series)}")
    lags = np.stack([series[p - k : len(series) - k] for k in range(1, p + 1)], axis=1)
    X = np.concatenate([np.ones((len(lags), 1)), lags], axis=1)
    y = series[p:]
    return np.linalg.solve(X.T @ X + ridge * np.eye(p + 1), X.T @ y)


def ar_predict(coef: np.ndarray, history: np.ndarray, steps: int = 1) -> np.ndarray:
    """Forecast ``steps`` values after ``history`` (..., >= p), feeding predictions back in. (..., steps)."""
    _series("coef", coef)
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 1 or len(coef) < 2:
        raise ValueError(f"coef: expected [c, a_1, ..., a_p] with p >= 1 (as ar_fit returns), got shape {coef.shape}")
    p = len(coef) - 1
    steps = check_positive_int("steps", steps)
    _series("history", history, None)
    history = np.asarray(history, dtype=np.float64)
    if history.shape[-1] < p:
        raise ValueError(f"history: expected at least p = {p} values on the last axis, got {history.shape[-1]}")
    window = history[..., -p:].copy()
    out = np.empty(history.shape[:-1] + (steps,))
    for s in range(steps):
        nxt = coef[0] + window[..., ::-1] @ coef[1:]
        out[..., s] = nxt
        window = np.concatenate([window[..., 1:], nxt[..., None]], axis=-1)
    return out
