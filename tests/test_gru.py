"""What only the GRU has: its two reset variants ("torch": reset after W_hn h + b_hn, as torch.nn.GRU;
"cho": reset before W_hn, Cho et al. 2014), where they differ and where they coincide, its two
bias vectors b_x and b_hh, and the checks of its option.

The cell contract of both variants (values and gradients against the torch twin and, for
"torch", torch.nn.GRU; finite differences, long sequences, steps, states, float32, purity,
saturation of the candidate) is tested in test_cell_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from support import TOL_TORCH, CellDims, cell_dims, make_cell_problem, note, seeds, variant

from bpttlab import crosscheck, rel_error
from bpttlab.numpy import gru
from bpttlab.params import LSTMParams, LSTMState
from bpttlab.torch import gru as tgru
from bpttlab.torch import to_torch

CHO, TORCH = variant("gru-cho"), variant("gru-torch")
SMALL = CellDims(T=4, B=2, D=3, H=5)
BACKENDS = {"numpy": gru, "torch": tgru}


def run(backend: str, p, which: str) -> dict[str, np.ndarray]:
    """Every tensor of ``backend`` (crosscheck.run) for problem ``p`` computed as variant ``which``."""
    return crosscheck.run(backend, "gru", p.x, p.state0, p.params, p.dhs, variant=which)


def with_reset_bias(p, value):
    """The problem with the reset gate's recurrent bias block b_hh[:H] set to ``value``."""
    H = p.params.W_h.shape[1]
    b_hh = p.params.b_hh.copy()
    b_hh[:H] = value
    return p._replace(params=p.params._replace(b_hh=b_hh))


def compare(group: str, ours: dict, theirs: dict, tol: float) -> None:
    for name, value in theirs.items():
        err = note(group, rel_error(ours[name.split(" ")[0]], value))
        assert err <= tol, f"{group} {name}: rel_error {err:.2e}"


@settings(deadline=None, max_examples=8)
@given(seed=seeds, d=cell_dims(T=(2, 12), H=(2, 8)))
def test_cho_variant_is_a_different_function_from_torch_nn_gru(seed, d):
    """On the same generic weights the "torch" variant equals torch.nn.GRU to 1e-10 while "cho" differs from
    it by far more than rounding, in the outputs and in the recurrent gradients; the torch twin draws the
    same distinction (its "cho" is NumPy's "cho", not torch.nn's GRU)."""
    p = make_cell_problem(CHO, seed, d)
    cho, same, nn = run("numpy", p, "cho"), run("numpy", p, "torch"), run("torch.nn", p, "torch")
    assert rel_error(same["hs"], nn["hs"]) < TOL_TORCH
    for name in ("hs", "dW_h", "db_hh"):
        assert rel_error(cho[name], nn[name]) > 1e-4, name
    twin_cho = run("torch", p, "cho")
    assert rel_error(twin_cho["hs"], cho["hs"]) < TOL_TORCH
    assert rel_error(twin_cho["hs"], nn["hs"]) > 1e-4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cho_equals_torch_nn_gru_when_the_reset_gate_is_open(seed):
    """With the reset gate saturated open (r = 1 exactly, from a huge positive r-bias), r * (W_hn h + b_hn)
    and W_hn (r * h) + b_hn coincide: "cho" then equals torch.nn.GRU in outputs and every gradient."""
    p = with_reset_bias(make_cell_problem(CHO, seed, CellDims(T=15, B=3, D=4, H=6)), 50.0)
    _, cache = gru.forward(p.x, p.state0, p.params, "cho")
    assert np.all(cache.r == 1.0)  # saturated exactly, not just nearly
    compare("gru: cho (r = 1) vs torch.nn", run("numpy", p, "cho"), run("torch.nn", p, "torch"), TOL_TORCH)
    q = with_reset_bias(p, 0.3)  # the same weights with a generic r-bias: the variants differ again
    assert rel_error(run("numpy", q, "cho")["hs"], run("torch.nn", q, "torch")["hs"]) > 1e-4


def test_cho_with_the_reset_gate_closed_moves_b_hn_into_the_input_bias():
    """With r = 0 (huge negative r-bias), "torch" drops b_hn (r * (W_hn h + b_hn) = 0) while "cho" keeps it
    (W_hn (0 * h) + b_hn): "cho" equals "torch" with b_hn added to b_x's n block, and db_hn(cho) = db_xn."""
    p = with_reset_bias(make_cell_problem(CHO, 4, CellDims(T=12, B=2, D=3, H=5)), -50.0)
    H = 5
    b_x = p.params.b_x.copy()
    b_x[2 * H :] += p.params.b_hh[2 * H :]
    cho = run("numpy", p, "cho")
    shifted = run("numpy", p._replace(params=p.params._replace(b_x=b_x)), "torch")
    for name in ("hs", "h_T", "dx", "dh0", "dW_x", "dW_h", "db_x"):
        assert rel_error(cho[name], shifted[name]) < 1e-12, name
    assert rel_error(cho["db_hh"][: 2 * H], shifted["db_hh"][: 2 * H]) < 1e-12
    assert rel_error(cho["db_hh"][2 * H :], shifted["db_x"][2 * H :]) < 1e-12
    assert np.abs(shifted["db_hh"][2 * H :]).max() < 1e-15  # torch's b_hn is cut off by the closed gate
    assert np.abs(cho["db_hh"][2 * H :]).max() > 1e-3  # cho's is not


def test_the_two_bias_vectors_enter_differently():
    """b_x and b_hh agree in the r and z blocks (both add to the pre-activation) but not in the n block,
    where b_hh sits inside the reset gate's product: moving the n block from b_hh to b_x changes hs."""
    p = make_cell_problem(TORCH, 6, SMALL)
    H = SMALL.H
    base = gru.forward(p.x, p.state0, p.params, "torch")[0]
    for block, should_change in ((slice(0, 2 * H), False), (slice(2 * H, 3 * H), True)):
        b_x, b_hh = p.params.b_x.copy(), p.params.b_hh.copy()
        b_x[block] += b_hh[block]
        b_hh[block] = 0.0
        moved = gru.forward(p.x, p.state0, p.params._replace(b_x=b_x, b_hh=b_hh), "torch")[0]
        assert (rel_error(moved, base) > 1e-3) == should_change, block


# ----------------------------------------------------------------- the GRU's own bad input


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("bad", ["pytorch", "Cho", None])
def test_unknown_variant_is_rejected(bad, backend):
    """A variant other than "torch" or "cho" is refused by every entry point of both backends."""
    p = make_cell_problem(TORCH, 8, SMALL)
    mod = BACKENDS[backend]
    if backend == "torch":
        x, h0, params = torch.tensor(p.x), torch.tensor(p.state0), to_torch(p.params)
    else:
        x, h0, params = p.x, p.state0, p.params
    error = TypeError if bad is None else ValueError
    match = r"^variant: expected one of \['torch', 'cho'\]"
    for call in (
        lambda: mod.forward(x, h0, params, bad),
        lambda: mod.step_forward(x[0], h0, params, bad),
        lambda: mod.states(x, h0, params, bad),
    ):
        with pytest.raises(error, match=match):
            call()


BAD_FORWARD = {
    "W_h LSTM-sized": (
        lambda x, h, p: (x, h, p._replace(W_h=np.concatenate([p.W_h, p.W_h[:5]]))),
        ValueError,
        r"params.W_h: expected shape \(3H, H\) with H = 5 \(from its own columns\) = \(15, 5\), got \(20, 5\)",
    ),
    "b_hh length": (
        lambda x, h, p: (x, h, p._replace(b_hh=np.zeros(16))),
        ValueError,
        r"params.b_hh: expected shape \(3H,\) with H = 5 \(from the columns of params.W_h\) = \(15,\), got \(16,\)",
    ),
    "b_hh float32": (
        lambda x, h, p: (x, h, p._replace(b_hh=p.b_hh.astype(np.float32))),
        TypeError,
        r"params.b_hh: expected dtype float64 \(the dtype of x\), got float32",
    ),
    "h0 an LSTMState": (
        lambda x, h, p: (x, LSTMState(h, h), p),
        TypeError,
        r"h0: expected a numpy.ndarray of shape \(B, H\), got LSTMState",
    ),
    "LSTM params": (
        lambda x, h, p: (x, h, LSTMParams(p.W_x, p.W_h, p.b_x)),
        TypeError,
        r"params: expected GRUParams, got LSTMParams",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FORWARD), ids=list(BAD_FORWARD))
def test_forward_rejects_bad_input(case):
    """Each bad argument fails with an error naming the argument, what it got and what was expected."""
    mutate, error, match = BAD_FORWARD[case]
    p = make_cell_problem(CHO, 7, SMALL)
    with pytest.raises(error, match="^" + match):
        gru.forward(*mutate(p.x, p.state0, p.params), "cho")


def test_torch_twin_refuses_a_state_container():
    p = make_cell_problem(TORCH, 10, SMALL)
    h0 = torch.tensor(p.state0)
    with pytest.raises(TypeError, match=r"^h0: expected a torch.Tensor of shape \(B, H\), got LSTMState"):
        tgru.forward(torch.tensor(p.x), LSTMState(h0, h0), to_torch(p.params))
