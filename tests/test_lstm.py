"""The LSTM: NumPy BPTT against bpttlab.torch (autograd) and torch.nn.LSTM, finite differences,
long sequences, step loops, float32 and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from bpttlab import directional_check, numerical_gradient, rel_error
from bpttlab.numpy import lstm
from bpttlab.params import GRUParams, LSTMGrads, LSTMState
from bpttlab.torch import lstm as tlstm
from bpttlab.torch import to_torch
from support import with_value
from strategies_gated import (
    TOL_DIRECTION,
    TOL_FD,
    TOL_FLOAT32,
    TOL_LOOP,
    TOL_TORCH,
    GDims,
    compare,
    gdims,
    grad_names,
    loss_value,
    make_problem,
    run_nn,
    run_numpy,
    run_torch,
    seeds,
)

SMALL = GDims(T=4, B=2, D=3, H=5)


def problem(seed, d, **kw):
    return make_problem("lstm", None, seed, d, **kw)


# ----------------------------------------------------------------- NumPy vs bpttlab.torch vs torch.nn


@settings(deadline=None, max_examples=40)
@given(seed=seeds, d=gdims())
def test_numpy_torch_and_torch_nn_agree(seed, d):
    """hs, dx, dh0, dc0, dW_x, dW_h, db agree pairwise across the three implementations to 1e-10 (float64).

    torch.nn.LSTM has two bias vectors summing to b: the gradient of each equals db.
    """
    p = problem(seed, d)
    ours, twin, nn = run_numpy(p), run_torch(p), run_nn(p)
    assert set(ours) == {"hs", *grad_names("lstm")} == {"hs", "dx", "dh0", "dc0", "dW_x", "dW_h", "db"}
    context = f"(d={d}, seed={seed})"
    compare("lstm numpy vs torch", ours, twin, TOL_TORCH, context)
    compare("lstm numpy vs torch.nn", nn, ours, TOL_TORCH, context)
    compare("lstm torch vs torch.nn", nn, twin, TOL_TORCH, context)


def test_biases_matter():
    """The random biases of the problems change the outputs (so a dropped bias cannot pass the parity test)."""
    p = problem(3, SMALL)
    zero_b = p._replace(params=p.params._replace(b=np.zeros_like(p.params.b)))
    assert rel_error(run_numpy(p)["hs"], run_numpy(zero_b)["hs"]) > 1e-2


# ----------------------------------------------------------------- long sequences


@pytest.mark.parametrize("T", [200, 500])
def test_long_sequence_directional_check(T):
    """The analytic slope along random directions in (x, h0, c0, W_x, W_h, b) matches finite differences to 1e-6."""
    p = problem(41, GDims(T=T, B=3, D=4, H=16))
    g = run_numpy(p)
    grads = [g[n] for n in grad_names("lstm")]
    dir_rng = np.random.default_rng(42)
    for _ in range(3):
        analytic, numerical = directional_check(lambda: loss_value(p), p.arrays, grads, dir_rng)
        err = abs(analytic - numerical) / max(abs(analytic), abs(numerical))
        assert err < TOL_DIRECTION, f"T={T}: slope {analytic:.6e} vs {numerical:.6e}: rel {err:.2e}"


def test_long_sequence_matches_torch_nn_at_T_200():
    """At T = 200 outputs and every gradient still agree with the torch twin and torch.nn.LSTM to 1e-10."""
    p = problem(43, GDims(T=200, B=3, D=4, H=16))
    ours, twin, nn = run_numpy(p), run_torch(p), run_nn(p)
    assert np.linalg.norm(ours["dh0"]) > 1e-8  # the gradient does reach back 200 steps: a meaningful check
    compare("lstm T=200 numpy vs torch", ours, twin, TOL_TORCH)
    compare("lstm T=200 numpy vs torch.nn", nn, ours, TOL_TORCH)


# ----------------------------------------------------------------- finite differences


def test_sequence_backward_matches_finite_differences():
    """dx, dh0, dc0 and every parameter gradient equal central differences of sum(dhs * hs)."""
    p = problem(11, SMALL)
    g = run_numpy(p)

    def f():
        return lstm.forward(p.x, p.state0, p.params)[0]

    for name, arr in zip(grad_names("lstm"), p.arrays):
        err = rel_error(g[name], numerical_gradient(f, arr, p.dhs))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


def test_step_backward_matches_finite_differences():
    """step_backward's dx_t, (dh_prev, dc_prev) and LSTMGrads equal central differences of one step."""
    p = problem(31, SMALL)
    x_t, state = p.x[0], p.state0
    out, cache = lstm.step_forward(x_t, state, p.params)
    rng = np.random.default_rng(32)
    dstate = LSTMState(rng.standard_normal(out.h.shape), rng.standard_normal(out.c.shape))
    dx_t, dprev, grads = lstm.step_backward(dstate, cache)
    df = np.stack(dstate)

    def f():
        return np.stack(lstm.step_forward(x_t, state, p.params)[0])

    checks = [("dx_t", x_t, dx_t), ("dh_prev", state.h, dprev.h), ("dc_prev", state.c, dprev.c)]
    checks += list(zip(LSTMGrads._fields, p.params, grads))
    for name, arr, analytic in checks:
        err = rel_error(analytic, numerical_gradient(f, arr, df))
        assert err < TOL_FD, f"{name}: rel_error {err:.2e}"


# ----------------------------------------------------------------- sequence = loop of steps


@settings(deadline=None, max_examples=25)
@given(seed=seeds, d=gdims())
def test_sequence_equals_loop_of_steps(seed, d):
    """forward/backward equal step_forward/step_backward looped by hand (weight gradients summed)."""
    p = problem(seed, d)
    hs, cache = lstm.forward(p.x, p.state0, p.params)
    dx, dstate0, grads = lstm.backward(p.dhs, cache)

    state, caches, loop_hs, loop_cs = p.state0, [], [], []
    for t in range(d.T):
        state, c = lstm.step_forward(p.x[t], state, p.params)
        loop_hs.append(state.h)
        loop_cs.append(state.c)
        caches.append(c)
    loop_dx = np.empty_like(p.x)
    dh, dc = np.zeros_like(p.state0.h), np.zeros_like(p.state0.c)
    total = [np.zeros_like(w) for w in p.params]
    for t in reversed(range(d.T)):
        loop_dx[t], (dh, dc), g = lstm.step_backward(LSTMState(p.dhs[t] + dh, dc), caches[t])
        total = [s + gi for s, gi in zip(total, g)]

    assert rel_error(hs, np.stack(loop_hs)) < TOL_LOOP
    assert rel_error(cache.cs, np.stack(loop_cs)) < TOL_LOOP
    assert rel_error(dx, loop_dx) < TOL_LOOP
    assert rel_error(dstate0.h, dh) < TOL_LOOP
    assert rel_error(dstate0.c, dc) < TOL_LOOP
    for name, ours, looped in zip(LSTMGrads._fields, grads, total):
        assert rel_error(ours, looped) < TOL_LOOP, name


def test_state_at_and_zero_state():
    """state_at(cache, t) is the state after t steps; zero_state is all zeros in the parameters' dtype."""
    p = problem(5, SMALL)
    hs, cache = lstm.forward(p.x, p.state0, p.params)
    assert lstm.state_at(cache, 0) is p.state0
    s2, _ = lstm.forward(p.x[:2], p.state0, p.params)
    assert np.array_equal(lstm.state_at(cache, 2).h, s2[-1])
    with pytest.raises(ValueError, match=r"t: expected a step count in \[0, 4\], got 5"):
        lstm.state_at(cache, 5)
    z = lstm.zero_state(p.params, 3)
    assert isinstance(z, LSTMState) and z.h.shape == z.c.shape == (3, SMALL.H)
    assert not np.any(z.h) and not np.any(z.c) and z.h is not z.c


# ----------------------------------------------------------------- float32


def test_float32_runs_and_agrees_with_float64():
    """The float32 forward and backward stay float32 and agree with float64 to 1e-5."""
    d = GDims(T=20, B=3, D=4, H=8)
    r64 = run_numpy(problem(51, d))
    r32 = run_numpy(problem(51, d, dtype=np.float32))
    for name in r64:
        assert r32[name].dtype == np.float32, name
        assert rel_error(r32[name], r64[name]) < TOL_FLOAT32, name


def test_float32_torch_twin_agrees_with_numpy():
    """The torch twin runs in float32 too and agrees with the NumPy float32 pass to 1e-5."""
    p = problem(52, GDims(T=20, B=3, D=4, H=8), dtype=np.float32)
    ours, twin = run_numpy(p), run_torch(p)
    for name in ours:
        assert twin[name].dtype == np.float32, name
        assert rel_error(ours[name], twin[name]) < TOL_FLOAT32, name


def test_forward_backward_do_not_modify_inputs():
    """Inputs, initial state and parameters are unchanged after a forward and backward pass."""
    p = problem(61, SMALL)
    before = [a.copy() for a in p.arrays]
    run_numpy(p)
    for a, b in zip(p.arrays, before):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- bad input



BAD_FORWARD = {
    "x rank 2": (lambda x, s, p: (x[0], s, p), ValueError, r"x: expected 3 axes \(T, B, D\), got 2 axes"),
    "T = 0": (lambda x, s, p: (x[:0], s, p), ValueError, r"x: every axis of \(T, B, D\) must be at least 1, got shape \(0, 2, 3\)"),
    "x int": (lambda x, s, p: (x.astype(np.int64), s, p), TypeError, r"x: expected dtype float32 or float64, got int64"),
    "x list": (lambda x, s, p: (x.tolist(), s, p), TypeError, r"x: expected a numpy.ndarray of shape \(T, B, D\), got list"),
    "D mismatch": (
        lambda x, s, p: (x[..., :2], s, p),
        ValueError,
        r"params.W_x: expected shape \(4H, D\) with D = 2 \(from x\), got \(20, 3\)",
    ),
    "W_h not (4H, H)": (
        lambda x, s, p: (x, s, p._replace(W_h=p.W_h[:-1])),
        ValueError,
        r"params.W_h: expected shape \(4H, H\) = \(20, 5\), got \(19, 5\)",
    ),
    "W_h square": (
        lambda x, s, p: (x, s, p._replace(W_h=p.W_h[:5])),
        ValueError,
        r"params.W_h: expected shape \(4H, H\) = \(20, 5\), got \(5, 5\)",
    ),
    "W_x rows": (
        lambda x, s, p: (x, s, p._replace(W_x=p.W_x[:-4])),
        ValueError,
        r"params.W_x: expected 4H = 20 rows \(from W_h\), got shape \(16, 3\)",
    ),
    "b length": (
        lambda x, s, p: (x, s, p._replace(b=p.b[:-1])),
        ValueError,
        r"params.b: expected shape \(4H,\) = \(20,\), got \(19,\)",
    ),
    "b rank": (lambda x, s, p: (x, s, p._replace(b=p.b[None])), ValueError, r"params.b: expected 1 axes \(4H,\)"),
    "x float32, params float64": (
        lambda x, s, p: (x.astype(np.float32), LSTMState(*(a.astype(np.float32) for a in s)), p),
        TypeError,
        r"params.W_x: expected dtype float32 \(the dtype of x\), got float64",
    ),
    "c0 float32": (
        lambda x, s, p: (x, s._replace(c=s.c.astype(np.float32)), p),
        TypeError,
        r"state0.c: expected dtype float64 \(the dtype of x\), got float32",
    ),
    "W_h float32": (
        lambda x, s, p: (x, s, p._replace(W_h=p.W_h.astype(np.float32))),
        TypeError,
        r"params.W_h: expected dtype float64 \(the dtype of x\), got float32",
    ),
    "NaN in x": (
        lambda x, s, p: (with_value(x, (2, 1, 0)), s, p),
        FloatingPointError,
        r"x: non-finite value \(NaN or inf\) at time step 2",
    ),
    "inf in x": (
        lambda x, s, p: (with_value(x, (3, 0, 2), np.inf), s, p),
        FloatingPointError,
        r"x: non-finite value \(NaN or inf\) at time step 3",
    ),
    "NaN in h0": (
        lambda x, s, p: (x, s._replace(h=with_value(s.h, (1, 4))), p),
        FloatingPointError,
        r"state0.h: non-finite value \(NaN or inf\) at index \(1, 4\)",
    ),
    "NaN in c0": (
        lambda x, s, p: (x, s._replace(c=with_value(s.c, (0, 1))), p),
        FloatingPointError,
        r"state0.c: non-finite value \(NaN or inf\) at index \(0, 1\)",
    ),
    "NaN in W_h": (
        lambda x, s, p: (x, s, p._replace(W_h=with_value(p.W_h, (7, 2)))),
        FloatingPointError,
        r"params.W_h: non-finite value \(NaN or inf\) at index \(7, 2\)",
    ),
    "NaN in b": (
        lambda x, s, p: (x, s, p._replace(b=with_value(p.b, (3,)))),
        FloatingPointError,
        r"params.b: non-finite value \(NaN or inf\) at index \(3,\)",
    ),
    "state0 a tuple": (lambda x, s, p: (x, tuple(s), p), TypeError, r"state0: expected LSTMState\(h, c\), got tuple"),
    "state0 an array": (lambda x, s, p: (x, s.h, p), TypeError, r"state0: expected LSTMState\(h, c\), got ndarray"),
    "h0 wrong batch": (
        lambda x, s, p: (x, s._replace(h=s.h[:1]), p),
        ValueError,
        r"state0.h: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)",
    ),
    "c0 wrong width": (
        lambda x, s, p: (x, s._replace(c=s.c[:, :4]), p),
        ValueError,
        r"state0.c: expected shape \(B, H\) = \(2, 5\), got \(2, 4\)",
    ),
    "GRU params": (
        lambda x, s, p: (x, s, GRUParams(p.W_x[:15], p.W_h[:15], p.b[:15], p.b[:15])),
        TypeError,
        r"params: expected LSTMParams, got GRUParams",
    ),
    "params a tuple": (lambda x, s, p: (x, s, tuple(p)), TypeError, r"params: expected LSTMParams, got tuple"),
}


@pytest.mark.parametrize("case", list(BAD_FORWARD), ids=list(BAD_FORWARD))
def test_forward_rejects_bad_input(case):
    """Each bad argument fails with an error naming the argument, what it got and what was expected."""
    mutate, error, match = BAD_FORWARD[case]
    p = problem(7, SMALL)
    x, state0, params = mutate(p.x, p.state0, p.params)
    with pytest.raises(error, match=match):
        lstm.forward(x, state0, params)


def test_backward_and_steps_reject_bad_input():
    """backward checks dhs (shape, dtype, finiteness); the step functions check their arguments too."""
    p = problem(8, SMALL)
    hs, cache = lstm.forward(p.x, p.state0, p.params)
    with pytest.raises(ValueError, match=r"dhs: expected shape \(T, B, H\) = \(4, 2, 5\), got \(4, 2, 4\)"):
        lstm.backward(p.dhs[..., :4], cache)
    with pytest.raises(TypeError, match=r"dhs: expected dtype float64 \(the dtype of the forward pass\), got float32"):
        lstm.backward(p.dhs.astype(np.float32), cache)
    with pytest.raises(FloatingPointError, match=r"dhs: non-finite value \(NaN or inf\) at time step 1"):
        lstm.backward(with_value(p.dhs, (1, 0, 0)), cache)
    with pytest.raises(ValueError, match=r"x_t: expected 2 axes \(B, D\), got 3 axes"):
        lstm.step_forward(p.x, p.state0, p.params)
    with pytest.raises(TypeError, match=r"state_prev: expected LSTMState\(h, c\), got tuple"):
        lstm.step_forward(p.x[0], tuple(p.state0), p.params)
    _, step_cache = lstm.step_forward(p.x[0], p.state0, p.params)
    with pytest.raises(TypeError, match=r"dstate: expected LSTMState\(dh, dc\), got ndarray"):
        lstm.step_backward(p.dhs[0], step_cache)
    with pytest.raises(ValueError, match=r"dstate.c: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)"):
        lstm.step_backward(LSTMState(p.dhs[0], p.dhs[0][:1]), step_cache)


def _torch(p):
    return torch.tensor(p.x), LSTMState(*(torch.tensor(a) for a in p.state0)), to_torch(p.params)


def test_torch_twin_rejects_bad_input():
    """bpttlab.torch.lstm checks rank, shapes, dtypes, state type and finiteness like the NumPy version."""
    p = problem(9, SMALL)
    x, s, params = _torch(p)
    with pytest.raises(ValueError, match=r"x: expected 3 axes \(T, B, D\), got 2 axes"):
        tlstm.forward(x[0], s, params)
    with pytest.raises(ValueError, match=r"params.W_x: expected shape \(20, 2\), got \(20, 3\)"):
        tlstm.forward(x[..., :2], s, params)
    with pytest.raises(ValueError, match=r"params.W_h: expected shape \(20, 5\), got \(19, 5\)"):
        tlstm.forward(x, s, params._replace(W_h=params.W_h[:-1]))
    with pytest.raises(ValueError, match=r"params.b: expected shape \(20,\), got \(19,\)"):
        tlstm.forward(x, s, params._replace(b=params.b[:-1]))
    with pytest.raises(ValueError, match=r"state0.h: expected shape \(2, 5\), got \(1, 5\)"):
        tlstm.forward(x, s._replace(h=s.h[:1]), params)
    with pytest.raises(ValueError, match=r"state0.c: expected shape \(2, 5\), got \(2, 4\)"):
        tlstm.forward(x, s._replace(c=s.c[:, :4]), params)
    with pytest.raises(TypeError, match=r"state0.c: expected dtype torch.float64 \(the dtype of x\), got torch.float32"):
        tlstm.forward(x, s._replace(c=s.c.float()), params)
    with pytest.raises(TypeError, match=r"params.W_x: expected dtype torch.float32 \(the dtype of x\), got torch.float64"):
        tlstm.forward(x.float(), LSTMState(s.h.float(), s.c.float()), params)
    with pytest.raises(TypeError, match=r"state0: expected LSTMState\(h, c\), got tuple"):
        tlstm.forward(x, tuple(s), params)
    with pytest.raises(TypeError, match=r"params: expected LSTMParams, got tuple"):
        tlstm.forward(x, s, tuple(params))
    with pytest.raises(FloatingPointError, match=r"x: non-finite value \(NaN or inf\) at time step 3"):
        tlstm.forward(torch.tensor(with_value(p.x, (3, 1, 1))), s, params)
