"""What only the LSTM has: the additive cell-state path, the state containers LSTMState(h, c) and
LSTMStateGrads(dh, dc), and the checks on the cell state c.

The cell contract (values and gradients against the torch twin and torch.nn.LSTM, finite
differences, long sequences, steps, states, float32, purity, saturation of g and tanh(c))
is tested for every cell in test_cell_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import TOL_TORCH, CellDims, make_cell_problem, note, torch_state, variant, with_value

from bpttlab import crosscheck
from bpttlab.numpy import lstm
from bpttlab.numpy.activations import tanh_grad
from bpttlab.params import LSTMParams, LSTMState, LSTMStateGrads
from bpttlab.torch import lstm as tlstm
from bpttlab.torch import to_torch

LSTM = variant("lstm")
SMALL = CellDims(T=4, B=2, D=3, H=5)
BACKENDS = {"numpy": lstm, "torch": tlstm}


def carousel(T: int, seed: int = 0):
    """An LSTM whose forget gate is exactly 1 and input gate exactly 0 (biases +-50), with W_h = 0:
    the cell state is copied unchanged through all T steps. Returns (x, state0, params, dhs), the
    upstream gradient on the last step only."""
    rng = np.random.default_rng(seed)
    D, H, B = 3, 4, 2
    W_x = rng.standard_normal((4 * H, D))
    W_x[: 2 * H] = 0.0  # i and f blocks do not see the input
    b = rng.standard_normal(4 * H)
    b[:H], b[H : 2 * H] = -50.0, 50.0
    params = LSTMParams(W_x, np.zeros((4 * H, H)), b)
    x = rng.standard_normal((T, B, D))
    state0 = LSTMState(rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    dhs = np.zeros((T, B, H))
    dhs[-1] = rng.standard_normal((B, H))
    return x, state0, params, dhs


@pytest.mark.parametrize("T", [1, 7, 300])
def test_the_cell_state_is_an_additive_path_that_carries_the_gradient_unchanged(T):
    """With f = 1 and i = 0 exactly, c_T = c_0 bit for bit whatever T, and dL/dc_0 for a loss on the last step
    is exactly dh_T o_T tanh'(c_0): no factor per step, so it neither vanishes nor explodes with T.
    The torch twin and torch.nn.LSTM agree to 1e-10."""
    x, state0, params, dhs = carousel(T)
    hs, cache = lstm.forward(x, state0, params)
    assert np.array_equal(cache.cs[-1], state0.c)
    _, dstate0, _ = lstm.backward(dhs, cache)
    H = state0.h.shape[1]
    o_T = cache.gates[-1][:, 3 * H :]
    assert np.array_equal(dstate0.dc, dhs[-1] * o_T * tanh_grad(np.tanh(state0.c)))
    cc = crosscheck.cross_check("lstm", x, state0, params, dhs)
    for backend, errors in cc.errors.items():
        for name, err in errors.items():
            assert note(f"lstm: additive path numpy vs {backend}", err) <= TOL_TORCH, (backend, name)


def test_the_forget_gate_scales_the_cell_gradient_per_step():
    """With f = 1/2 exactly (forget bias 0, no input to the f block) and the other paths closed, dL/dc_0 is
    2^-(T-1) times dL/dc_{T-1} (powers of two: exact), the geometric decay the forget gate controls."""
    x, state0, params, dhs = carousel(10)
    H = state0.h.shape[1]
    b = params.b.copy()
    b[H : 2 * H] = 0.0  # f = sigmoid(0) = 1/2
    params = params._replace(b=b)
    _, cache = lstm.forward(x, state0, params)
    _, dstate0, _ = lstm.backward(dhs, cache)
    one_step = lstm.backward(dhs[-1:], lstm.forward(x[-1:], lstm.state_at(cache, 9), params)[1])[1]
    assert np.array_equal(dstate0.dc, one_step.dc * 2.0**-9)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_states_and_their_gradients_are_the_named_containers(backend):
    """forward/backward and the step pair return LSTMState and LSTMStateGrads; step_backward refuses a bare
    array and an LSTMState (a state is not its gradient) on both backends."""
    mod = BACKENDS[backend]
    p = make_cell_problem(LSTM, 1, SMALL)
    if backend == "torch":
        x, dhs = torch.tensor(p.x), torch.tensor(p.dhs)
        s0, params = torch_state(LSTM.spec, p.state0), to_torch(p.params)
    else:
        x, s0, params, dhs = p.x, p.state0, p.params, p.dhs
    _, cache = mod.forward(x, s0, params)
    assert isinstance(mod.backward(dhs, cache)[1], LSTMStateGrads)
    assert isinstance(mod.state_at(cache, 2), LSTMState)
    out, step_cache = mod.step_forward(x[0], s0, params)
    assert isinstance(out, LSTMState)
    dx_t, dprev, _ = mod.step_backward(LSTMStateGrads(dhs[0], dhs[0]), step_cache)
    assert isinstance(dprev, LSTMStateGrads)
    with pytest.raises(TypeError, match=r"^dstate_t: expected LSTMStateGrads\(dh, dc\), got (ndarray|Tensor)"):
        mod.step_backward(dhs[0], step_cache)
    with pytest.raises(TypeError, match=r"^dstate_t: expected LSTMStateGrads\(dh, dc\), got LSTMState"):
        mod.step_backward(LSTMState(dhs[0], dhs[0]), step_cache)
    with pytest.raises(ValueError, match=r"^dstate_t.dc: expected shape \(B, H\) = \(2, 5\), got \(1, 5\)"):
        mod.step_backward(LSTMStateGrads(dhs[0], dhs[0][:1]), step_cache)
    with pytest.raises(TypeError, match=r"^state_prev: expected LSTMState\(h, c\), got tuple"):
        mod.step_forward(x[0], tuple(s0), params)


# ----------------------------------------------------------------- bad input of the LSTM's own


def _f32(a):
    return a.float() if isinstance(a, torch.Tensor) else a.astype(np.float32)


BAD_FORWARD = {
    "state0 a tuple": (lambda x, s, p: (x, tuple(s), p), TypeError, r"state0: expected LSTMState\(h, c\), got tuple"),
    "state0 an array": (
        lambda x, s, p: (x, s.h, p),
        TypeError,
        r"state0: expected LSTMState\(h, c\), got (ndarray|Tensor)",
    ),
    "c0 float32": (
        lambda x, s, p: (x, s._replace(c=_f32(s.c)), p),
        TypeError,
        r"state0.c: expected dtype (torch\.)?float64 \(the dtype of x\), got (torch\.)?float32",
    ),
    "c0 wrong width": (
        lambda x, s, p: (x, s._replace(c=s.c[:, :4]), p),
        ValueError,
        r"state0.c: expected shape \(B, H\) = \(2, 5\), got \(2, 4\)",
    ),
    "W_x rows": (
        lambda x, s, p: (x, s, p._replace(W_x=p.W_x[:-4])),
        ValueError,
        r"params.W_x: expected shape \(4H, D\) with H = 5 \(from the columns of params.W_h\) = \(20, 3\), got \(16, 3\)",
    ),
    "b rank": (lambda x, s, p: (x, s, p._replace(b=p.b[None])), ValueError, r"params.b: expected 1 axes \(4H,\)"),
    "x float32, params float64": (
        lambda x, s, p: (_f32(x), LSTMState(*(_f32(a) for a in s)), p),
        TypeError,
        r"params.W_x: expected dtype (torch\.)?float32 \(the dtype of x\), got (torch\.)?float64",
    ),
}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("case", list(BAD_FORWARD), ids=list(BAD_FORWARD))
def test_forward_rejects_bad_input(case, backend):
    """Each bad argument fails with an error naming the argument, what it got and what was expected."""
    mutate, error, match = BAD_FORWARD[case]
    p = make_cell_problem(LSTM, 7, SMALL)
    if backend == "torch":
        x, s, params = torch.tensor(p.x), torch_state(LSTM.spec, p.state0), to_torch(p.params)
    else:
        x, s, params = p.x, p.state0, p.params
    with pytest.raises(error, match="^" + match):
        BACKENDS[backend].forward(*mutate(x, s, params))


def test_nan_in_the_cell_state_is_reported_with_its_index():
    p = make_cell_problem(LSTM, 8, SMALL)
    with pytest.raises(FloatingPointError, match=r"^state0.c: non-finite value \(NaN or inf\) at index \(0, 1\)"):
        lstm.forward(p.x, p.state0._replace(c=with_value(p.state0.c, (0, 1))), p.params)
