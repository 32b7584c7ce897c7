"""The GRU, both reset variants: NumPy BPTT against bpttlab.torch (autograd) and torch.nn.GRU,
the difference between the variants, finite differences, long sequences, step loops, float32, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from bpttlab import directional_check, numerical_gradient, rel_error
from bpttlab.numpy import gru
from bpttlab.params import GRUGrads, LSTMParams, LSTMState
from bpttlab.torch import gru as tgru
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

VARIANTS = ("torch", "cho")
SMALL = GDims(T=4, B=2, D=3, H=5)
GRAD_KEYS = {"hs", "dx", "dh0", "dW_x", "dW_h", "db_x", "db_h"}


def problem(variant, seed, d, **kw):
    return make_problem("gru", variant, seed, d, **kw)


def with_reset_bias(p, value):
    """The problem with the reset gate's recurrent bias block b_h[:H] set to ``value``."""
    H = p.params.W_h.shape[1]
    b_h = p.params.b_h.copy()
    b_h[:H] = value
    return p._replace(params=p.params._replace(b_h=b_h))


# ----------------------------------------------------------------- NumPy vs bpttlab.torch vs torch.nn


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None, max_examples=30)
@given(seed=seeds, d=gdims())
def test_numpy_matches_torch_twin(variant, seed, d):
    """hs, dx, dh0, dW_x, dW_h, db_x, db_h agree with bpttlab.torch (autograd) to 1e-10 in float64."""
    p = problem(variant, seed, d)
    ours, twin = run_numpy(p), run_torch(p)
    assert set(ours) == GRAD_KEYS
    compare(f"gru-{variant} numpy vs torch", ours, twin, TOL_TORCH, f"(d={d}, seed={seed})")


@settings(deadline=None, max_examples=30)
@given(seed=seeds, d=gdims())
def test_torch_variant_matches_torch_nn_gru(seed, d):
    """The "torch" variant equals torch.nn.GRU with mapped weights (NumPy and the twin) to 1e-10."""
    p = problem("torch", seed, d)
    ours, twin, nn = run_numpy(p), run_torch(p), run_nn(p)
    compare("gru-torch numpy vs torch.nn", nn, ours, TOL_TORCH, f"(d={d}, seed={seed})")
    compare("gru-torch torch vs torch.nn", nn, twin, TOL_TORCH, f"(d={d}, seed={seed})")


def test_biases_matter():
    """Both bias vectors change the outputs (so a dropped or misplaced bias cannot pass the parity tests)."""
    p = problem("torch", 3, SMALL)
    hs = run_numpy(p)["hs"]
    for field in ("b_x", "b_h"):
        q = p._replace(params=p.params._replace(**{field: np.zeros_like(getattr(p.params, field))}))
        assert rel_error(run_numpy(q)["hs"], hs) > 1e-2, field


# ----------------------------------------------------------------- the two variants


@settings(deadline=None, max_examples=20)
@given(seed=seeds, d=gdims(T=(2, 12), H=(2, 8)))
def test_cho_variant_differs_from_torch_nn_gru(seed, d):
    """For generic weights the "cho" variant (reset before W_hn) is a different function from torch.nn.GRU.

    Both runs share the weights; the "torch" variant on the same weights matches torch.nn to 1e-10,
    while "cho" differs by far more than rounding in the outputs and in the gradients.
    """
    cho = problem("cho", seed, d)
    torch_variant = cho._replace(variant="torch")
    ours_cho, ours_torch, nn = run_numpy(cho), run_numpy(torch_variant), run_nn(torch_variant)
    assert rel_error(ours_torch["hs"], nn["hs"]) < TOL_TORCH
    assert rel_error(ours_cho["hs"], nn["hs"]) > 1e-4
    assert rel_error(ours_cho["dW_h"], nn["dW_h"]) > 1e-4
    assert rel_error(ours_cho["db_h"], nn["db_h"]) > 1e-4
    # the twin draws the same distinction: its "cho" agrees with NumPy's "cho", not with torch.nn
    twin_cho = run_torch(cho)
    assert rel_error(twin_cho["hs"], ours_cho["hs"]) < TOL_TORCH
    assert rel_error(twin_cho["hs"], nn["hs"]) > 1e-4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cho_equals_torch_nn_gru_when_reset_gate_is_open(seed):
    """With the reset gate saturated open (r = 1 exactly, from a huge positive r-bias), r * (W_hn h + b_hn)
    and W_hn (r * h) + b_hn coincide: the "cho" variant then equals torch.nn.GRU in outputs and every gradient."""
    p = with_reset_bias(problem("cho", seed, GDims(T=15, B=3, D=4, H=6)), 50.0)
    _, cache = gru.forward(p.x, p.state0, p.params, "cho")
    assert np.all(cache.r == 1.0)  # saturated exactly, not just nearly
    ours, nn = run_numpy(p), run_nn(p._replace(variant="torch"))
    compare("gru-cho (r = 1) numpy vs torch.nn", nn, ours, TOL_TORCH)
    # the same weights with the r-bias at a generic value: the variants differ again
    q = with_reset_bias(p, 0.3)
    assert rel_error(run_numpy(q)["hs"], run_nn(q._replace(variant="torch"))["hs"]) > 1e-4


def test_cho_with_reset_gate_closed_moves_b_hn_into_the_input_bias():
    """With r ~ 0 (huge negative r-bias), "torch" drops b_hn (r * (W_hn h + b_hn) = 0) while "cho" keeps it
    (W_hn (0 * h) + b_hn): "cho" equals "torch" with b_hn added to b_x's n block, and db_hn(cho) = db_xn."""
    p = with_reset_bias(problem("cho", 4, GDims(T=12, B=2, D=3, H=5)), -50.0)
    H = 5
    b_x = p.params.b_x.copy()
    b_x[2 * H :] += p.params.b_h[2 * H :]
    shifted = p._replace(variant="torch", params=p.params._replace(b_x=b_x))
    cho, tv = run_numpy(p), run_numpy(shifted)
    for name in ("hs", "dx", "dh0", "dW_x", "dW_h", "db_x"):
        assert rel_error(cho[name], tv[name]) < 1e-12, name
    assert rel_error(cho["db_h"][: 2 * H], tv["db_h"][: 2 * H]) < 1e-12
    assert rel_error(cho["db_h"][2 * H :], tv["db_x"][2 * H :]) < 1e-12
    assert np.abs(tv["db_h"][2 * H :]).max() < 1e-15  # torch's b_hn is cut off by the closed gate
    assert np.abs(cho["db_h"][2 * H :]).max() > 1e-3  # cho's is not


# ----------------------------------------------------------------- long sequences


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("T", [200, 500])
def test_long_sequence_directional_check(variant, T):
    """The analytic slope along random directions in (x, h0, W_x, W_h, b_x, b_h) matches finite differences to 1e-6."""
    p = problem(variant, 41, GDims(T=T, B=3, D=4, H=16))
    g = run_numpy(p)
    grads = [g[n] for n in grad_names("gru")]
    dir_rng = np.random.default_rng(42)
    for _ in range(3):
        analytic, numerical = directional_check(lambda: loss_value(p), p.arrays, grads, dir_rng)
        err = abs(analytic - numerical) / max(abs(analytic), abs(numerical))
        assert err < TOL_DIRECTION, f"{variant} T={T}: slope {analytic:.6e} vs {numerical:.6e}: rel {err:.2e}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_long_sequence_matches_torch_at_T_200(variant):
    """At T = 200 outputs and every gradient agree with the twin (and torch.nn.GRU for "torch") to 1e-10."""
    p = problem(variant, 43, GDims(T=200, B=3, D=4, H=16))
    ours = run_numpy(p)
    assert np.linalg.norm(ours["dh0"]) > 1e-8  # the gradient does reach back 200 steps
    compare(f"gru-{variant} T=200 numpy vs torch", ours, run_torch(p), TOL_TORCH)
    if variant == "torch":
        compare("gru-torch T=200 numpy vs torch.nn", run_nn(p), ours, TOL_TORCH)


# ----------------------------------------------------------------- finite differences


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_backward_matches_finite_differences(variant):
    """dx, dh0 and every parameter gradient equal central differences of sum(dhs * hs)."""
    p = problem(variant, 11, SMALL)
    g = run_numpy(p)

    def f():
        return gru.forward(p.x, p.state0, p.params, variant)[0]

    for name, arr in zip(grad_names("gru"), p.arrays):
        err = rel_error(g[name], numerical_gradient(f, arr, p.dhs))
        assert err < TOL_FD, f"{variant} {name}: rel_error {err:.2e}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_step_backward_matches_finite_differences(variant):
    """step_backward's dx_t, dh_prev and GRUGrads equal central differences of one step."""
    p = problem(variant, 31, SMALL)
    x_t, h_prev = p.x[0], p.state0
    h_t, cache = gru.step_forward(x_t, h_prev, p.params, variant)
    dh = np.random.default_rng(32).standard_normal(h_t.shape)
    dx_t, dh_prev, grads = gru.step_backward(dh, cache)

    def f():
        return gru.step_forward(x_t, h_prev, p.params, variant)[0]

    checks = [("dx_t", x_t, dx_t), ("dh_prev", h_prev, dh_prev), *zip(GRUGrads._fields, p.params, grads)]
    for name, arr, analytic in checks:
        err = rel_error(analytic, numerical_gradient(f, arr, dh))
        assert err < TOL_FD, f"{variant} {name}: rel_error {err:.2e}"


# ----------------------------------------------------------------- sequence = loop of steps


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None, max_examples=20)
@given(seed=seeds, d=gdims())
def test_sequence_equals_loop_of_steps(variant, seed, d):
    """forward/backward equal step_forward/step_backward looped by hand (weight gradients summed)."""
    p = problem(variant, seed, d)
    hs, cache = gru.forward(p.x, p.state0, p.params, variant)
    dx, dh0, grads = gru.backward(p.dhs, cache)

    h, caches, loop_hs = p.state0, [], []
    for t in range(d.T):
        h, c = gru.step_forward(p.x[t], h, p.params, variant)
        loop_hs.append(h)
        caches.append(c)
    loop_dx = np.empty_like(p.x)
    dh = np.zeros_like(p.state0)
    total = [np.zeros_like(w) for w in p.params]
    for t in reversed(range(d.T)):
        loop_dx[t], dh, g = gru.step_backward(p.dhs[t] + dh, caches[t])
        total = [s + gi for s, gi in zip(total, g)]

    assert rel_error(hs, np.stack(loop_hs)) < TOL_LOOP
    assert rel_error(dx, loop_dx) < TOL_LOOP
    assert rel_error(dh0, dh) < TOL_LOOP
    for name, ours, looped in zip(GRUGrads._fields, grads, total):
        assert rel_error(ours, looped) < TOL_LOOP, name


def test_state_at_and_zero_state():
    """state_at(cache, t) is the hidden state after t steps; zero_state is (B, H) zeros in the params' dtype."""
    p = problem("cho", 5, SMALL)
    hs, cache = gru.forward(p.x, p.state0, p.params, "cho")
    assert gru.state_at(cache, 0) is p.state0
    assert np.array_equal(gru.state_at(cache, 3), hs[2])
    with pytest.raises(ValueError, match=r"t: expected a step count in \[0, 4\], got -1"):
        gru.state_at(cache, -1)
    z = gru.zero_state(p.params._replace(**{f: a.astype(np.float32) for f, a in p.params._asdict().items()}), 3)
    assert z.shape == (3, SMALL.H) and z.dtype == np.float32 and not np.any(z)


# ----------------------------------------------------------------- float32


@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_runs_and_agrees_with_float64(variant):
    """The float32 forward and backward stay float32 and agree with float64 to 1e-5; so does the twin."""
    d = GDims(T=20, B=3, D=4, H=8)
    r64 = run_numpy(problem(variant, 51, d))
    p32 = problem(variant, 51, d, dtype=np.float32)
    r32, t32 = run_numpy(p32), run_torch(p32)
    for name in r64:
        assert r32[name].dtype == np.float32 and t32[name].dtype == np.float32, name
        assert rel_error(r32[name], r64[name]) < TOL_FLOAT32, name
        assert rel_error(t32[name], r64[name]) < TOL_FLOAT32, name


def test_forward_backward_do_not_modify_inputs():
    """Inputs, initial state and parameters are unchanged after a forward and backward pass."""
    for variant in VARIANTS:
        p = problem(variant, 61, SMALL)
        before = [a.copy() for a in p.arrays]
        run_numpy(p)
        for a, b in zip(p.arrays, before):
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- bad input



BAD_FORWARD = {
    "x rank 4": (lambda x, h, p: (x[None], h, p), ValueError, r"x: expected 3 axes \(T, B, D\), got 4 axes"),
    "T = 0": (lambda x, h, p: (x[:0], h, p), ValueError, r"x: every axis of \(T, B, D\) must be at least 1, got shape \(0, 2, 3\)"),
    "x int": (lambda x, h, p: (x.astype(np.int32), h, p), TypeError, r"x: expected dtype float32 or float64, got int32"),
    "D mismatch": (
        lambda x, h, p: (np.concatenate([x, x], axis=-1), h, p),
        ValueError,
        r"params.W_x: expected shape \(3H, D\) with D = 6 \(from x\), got \(15, 3\)",
    ),
    "W_h not (3H, H)": (
        lambda x, h, p: (x, h, p._replace(W_h=p.W_h[:, :4])),
        ValueError,
        r"params.W_h: expected shape \(3H, H\) = \(12, 4\), got \(15, 4\)",
    ),
    "W_h LSTM-sized": (
        lambda x, h, p: (x, h, p._replace(W_h=np.concatenate([p.W_h, p.W_h[:5]]))),
        ValueError,
        r"params.W_h: expected shape \(3H, H\) = \(15, 5\), got \(20, 5\)",
    ),
    "b_x length": (
        lambda x, h, p: (x, h, p._replace(b_x=p.b_x[:10])),
        ValueError,
        r"params.b_x: expected shape \(3H,\) = \(15,\), got \(10,\)",
    ),
    "b_h length": (
        lambda x, h, p: (x, h, p._replace(b_h=np.zeros(16))),
        ValueError,
        r"params.b_h: expected shape \(3H,\) = \(15,\), got \(16,\)",
    ),
    "x float32, params float64": (
        lambda x, h, p: (x.astype(np.float32), h.astype(np.float32), p),
        TypeError,
        r"params.W_x: expected dtype float32 \(the dtype of x\), got float64",
    ),
    "h0 float32": (
        lambda x, h, p: (x, h.astype(np.float32), p),
        TypeError,
        r"h0: expected dtype float64 \(the dtype of x\), got float32",
    ),
    "b_h float32": (
        lambda x, h, p: (x, h, p._replace(b_h=p.b_h.astype(np.float32))),
        TypeError,
        r"params.b_h: expected dtype float64 \(the dtype of x\), got float32",
    ),
    "NaN in x": (
        lambda x, h, p: (with_value(x, (3, 0, 1)), h, p),
        FloatingPointError,
        r"x: non-finite value \(NaN or inf\) at time step 3",
    ),
    "-inf in x": (
        lambda x, h, p: (with_value(x, (1, 1, 2), -np.inf), h, p),
        FloatingPointError,
        r"x: non-finite value \(NaN or inf\) at time step 1",
    ),
    "NaN in h0": (
        lambda x, h, p: (x, with_value(h, (0, 3)), p),
        FloatingPointError,
        r"h0: non-finite value \(NaN or inf\) at index \(0, 3\)",
    ),
    "NaN in W_x": (
        lambda x, h, p: (x, h, p._replace(W_x=with_value(p.W_x, (4, 1)))),
        FloatingPointError,
        r"params.W_x: non-finite value \(NaN or inf\) at index \(4, 1\)",
    ),
    "inf in b_h": (
        lambda x, h, p: (x, h, p._replace(b_h=with_value(p.b_h, (12,), np.inf))),
        FloatingPointError,
        r"params.b_h: non-finite value \(NaN or inf\) at index \(12,\)",
    ),
    "h0 an LSTMState": (
        lambda x, h, p: (x, LSTMState(h, h), p),
        TypeError,
        r"h0: expected a numpy.ndarray of shape \(B, H\), got LSTMState",
    ),
    "h0 wrong batch": (lambda x, h, p: (x, h[:1], p), ValueError, r"h0: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)"),
    "LSTM params": (
        lambda x, h, p: (x, h, LSTMParams(p.W_x, p.W_h, p.b_x)),
        TypeError,
        r"params: expected GRUParams, got LSTMParams",
    ),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", list(BAD_FORWARD), ids=list(BAD_FORWARD))
def test_forward_rejects_bad_input(case, variant):
    """Each bad argument fails with an error naming the argument, what it got and what was expected."""
    mutate, error, match = BAD_FORWARD[case]
    p = problem(variant, 7, SMALL)
    x, h0, params = mutate(p.x, p.state0, p.params)
    with pytest.raises(error, match=match):
        gru.forward(x, h0, params, variant)


@pytest.mark.parametrize("bad", ["pytorch", "Cho", None])
def test_unknown_variant_is_rejected(bad):
    """A variant other than "torch" or "cho" is refused by every entry point of both backends."""
    p = problem("torch", 8, SMALL)
    match = r"variant: expected one of \['torch', 'cho'\], got " + repr(bad).replace("(", r"\(")
    with pytest.raises(ValueError, match=match):
        gru.forward(p.x, p.state0, p.params, bad)
    with pytest.raises(ValueError, match=match):
        gru.step_forward(p.x[0], p.state0, p.params, bad)
    with pytest.raises(ValueError, match=match):
        tgru.forward(torch.tensor(p.x), torch.tensor(p.state0), to_torch(p.params), bad)


def test_backward_and_steps_reject_bad_input():
    """backward checks dhs; the step functions check their arguments too."""
    p = problem("cho", 9, SMALL)
    _, cache = gru.forward(p.x, p.state0, p.params, "cho")
    with pytest.raises(ValueError, match=r"dhs: expected shape \(T, B, H\) = \(4, 2, 5\), got \(3, 2, 5\)"):
        gru.backward(p.dhs[:3], cache)
    with pytest.raises(FloatingPointError, match=r"dhs: non-finite value \(NaN or inf\) at time step 2"):
        gru.backward(with_value(p.dhs, (2, 1, 4)), cache)
    with pytest.raises(ValueError, match=r"x_t: expected 2 axes \(B, D\), got 1 axes"):
        gru.step_forward(p.x[0, 0], p.state0, p.params, "cho")
    with pytest.raises(ValueError, match=r"h_prev: expected shape \(B, H\) = \(2, 5\), got \(2, 3\)"):
        gru.step_forward(p.x[0], p.state0[:, :3], p.params, "cho")
    _, step_cache = gru.step_forward(p.x[0], p.state0, p.params, "cho")
    with pytest.raises(ValueError, match=r"dh_t: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)"):
        gru.step_backward(p.dhs[0][:1], step_cache)


def test_torch_twin_rejects_bad_input():
    """bpttlab.torch.gru checks rank, shapes, dtypes, params type and finiteness like the NumPy version."""
    p = problem("torch", 10, SMALL)
    x, h0, params = torch.tensor(p.x), torch.tensor(p.state0), to_torch(p.params)
    with pytest.raises(ValueError, match=r"x: expected 3 axes \(T, B, D\), got 2 axes"):
        tgru.forward(x[:, 0], h0, params)
    with pytest.raises(ValueError, match=r"params.W_x: expected shape \(15, 1\), got \(15, 3\)"):
        tgru.forward(x[..., :1], h0, params)
    with pytest.raises(ValueError, match=r"params.W_h: expected shape \(12, 4\), got \(15, 4\)"):
        tgru.forward(x, h0, params._replace(W_h=params.W_h[:, :4]))
    with pytest.raises(ValueError, match=r"params.b_x: expected shape \(15,\), got \(14,\)"):
        tgru.forward(x, h0, params._replace(b_x=params.b_x[1:]))
    with pytest.raises(ValueError, match=r"h0: expected shape \(2, 5\), got \(2, 4\)"):
        tgru.forward(x, h0[:, :4], params)
    with pytest.raises(TypeError, match=r"h0: expected dtype torch.float64 \(the dtype of x\), got torch.float32"):
        tgru.forward(x, h0.float(), params)
    with pytest.raises(TypeError, match=r"params: expected GRUParams, got tuple"):
        tgru.forward(x, h0, tuple(params))
    with pytest.raises(FloatingPointError, match=r"x: non-finite value \(NaN or inf\) at time step 2"):
        tgru.forward(torch.tensor(with_value(p.x, (2, 0, 0))), h0, params, "cho")
