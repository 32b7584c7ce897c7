"""Truncated BPTT, TBPTT(k1, k2): NumPy against torch's cut graph and against the definition with untied weights.

The definition used by the independent check: give step t its own copy theta_t of the
cell's parameters; the full gradient is sum_t dL/dtheta_t. TBPTT(k1, k2) splits the
steps into chunks [s, e) of k1 steps and, for each chunk's loss L_[s,e), keeps only
the contributions dL_[s,e)/dtheta_t of the k2 steps t in [max(0, e - k2), e).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab import rel_error
from bpttlab.numpy import seq
from bpttlab.params import ReadoutGrads, RNNGrads
from bpttlab.torch import seq as tseq
from strategies_seq import (
    PARAM_NAMES,
    TASKS,
    TOL_TORCH,
    grad_leaves,
    make_seq_problem,
    record,
    seq_T,
    torch_grad_leaves,
    torch_params,
    truncation_case,
)

TOL_SAME = 1e-13  # the same sums in another order: only rounding may differ
# Chunk gradients summed chunk by chunk vs in one product: a reassociated float64 sum. Where the
# terms cancel (db_y is a sum of signed residuals) the relative rounding reached 1e-13 in a sweep
# of 3000 random cases; anything from a wrong cut would be of the size of the gradient itself.
TOL_REASSOCIATED = 1e-12


def full_grads(p) -> list[np.ndarray]:
    return grad_leaves(seq.loss_and_grads(p.model, p.params, p.batch, p.state0).grads)


def torch_truncated(p, k1, k2):
    """(loss, gradients, final state) of torch's cut-graph objective."""
    tp = torch_params(p.params)
    tb = tseq.batch_to_torch(p.batch)
    objective = tseq.truncated_objective(p.model, tp, tb, torch.tensor(p.state0), k1, k2)
    objective.backward()
    with torch.no_grad():
        final = tseq.CELLS[p.model.cell].states(tb.x, torch.tensor(p.state0), tp.cell, **p.model.options())[-1]
    return objective.item(), torch_grad_leaves(tp), final.numpy()


def untied_truncated(p, k1, k2):
    """The TBPTT(k1, k2) gradient from its definition: per-step copies of W_xh, W_hh, b_h.

    Runs the whole forward pass from state0 with step t using its own leaf copies, then for
    each chunk [s, e) sums dL_chunk/dtheta_t over t in [max(0, e - k2), e) only. Written here,
    in plain torch ops, independently of bpttlab's forward and loss code.
    """
    x = torch.tensor(p.batch.x)
    mask = torch.tensor(p.batch.mask)
    T = x.shape[0]
    k1 = T if k1 is None else k1
    k2 = k1 if k2 is None else k2
    cell, readout = p.params
    W_xh = [torch.tensor(cell.W_xh, requires_grad=True) for _ in range(T)]
    W_hh = [torch.tensor(cell.W_hh, requires_grad=True) for _ in range(T)]
    b_h = [torch.tensor(cell.b_h, requires_grad=True) for _ in range(T)]
    W_hy = torch.tensor(readout.W_hy, requires_grad=True)
    b_y = torch.tensor(readout.b_y, requires_grad=True)
    act = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}[p.model.activation]
    h, hs = torch.tensor(p.state0), []
    for t in range(T):
        h = act(x[t] @ W_xh[t].T + h @ W_hh[t].T + b_h[t])
        hs.append(h)
    ys = torch.stack(hs) @ W_hy.T + b_y  # (T, B, O)
    if p.model.loss == "mse":
        per_step = ((ys - torch.tensor(p.batch.y)) ** 2).sum(-1) / ys.shape[-1]
    else:
        logp = F.log_softmax(ys, dim=-1)
        per_step = -logp.gather(-1, torch.tensor(p.batch.y)[..., None])[..., 0]
    N = mask.sum()
    total = torch.zeros((), dtype=torch.float64)
    acc = [torch.zeros_like(W_xh[0]), torch.zeros_like(W_hh[0]), torch.zeros_like(b_h[0])]
    acc += [torch.zeros_like(W_hy), torch.zeros_like(b_y)]
    for s in range(0, T, k1):
        e = min(s + k1, T)
        w = max(0, e - k2)
        chunk = (mask[s:e] * per_step[s:e]).sum() / N
        total = total + chunk.detach()
        g = torch.autograd.grad(chunk, W_xh + W_hh + b_h + [W_hy, b_y], retain_graph=True)
        g_xh, g_hh, g_b, g_out = g[:T], g[T : 2 * T], g[2 * T : 3 * T], g[3 * T :]
        for t in range(w, e):  # contributions of steps before w are dropped
            acc[0] += g_xh[t]
            acc[1] += g_hh[t]
            acc[2] += g_b[t]
        acc[3] += g_out[0]
        acc[4] += g_out[1]
    return float(total), [a.numpy() for a in acc]


# ----------------------------------------------------------------- k = T is full BPTT


@pytest.mark.parametrize("task", TASKS)
@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_k_equal_T_is_full_bptt(task, data):
    """k1 = k2 = T, k1 = T < k2, k1 > T and k1 = None give exactly the full gradient; k2 >= T with
    any k1 gives it up to rounding (every chunk is backpropagated to the start)."""
    size, B, H, _, _, activation, seed = data.draw(truncation_case(task))
    p = make_seq_problem(task, size, B, H, seed, activation)
    T = seq_T(task, size)
    ref = seq.loss_and_grads(p.model, p.params, p.batch, p.state0)
    for k1, k2 in [(T, T), (T, None), (T, T + 3), (T + 1, None), (None, T + 2)]:
        r = seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k1, k2)
        assert r.loss == ref.loss
        for name, a, b in zip(PARAM_NAMES, grad_leaves(r.grads), grad_leaves(ref.grads)):
            assert np.array_equal(a, b), (k1, k2, name)
        assert np.array_equal(r.final_state, ref.final_state)
    k1 = data.draw(st.integers(1, T), label="k1 with k2 = T")
    r = seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k1, T)
    for name, a, b in zip(PARAM_NAMES, grad_leaves(r.grads), grad_leaves(ref.grads)):
        assert rel_error(a, b) <= TOL_REASSOCIATED, (k1, name)


@pytest.mark.parametrize("task", TASKS)
@settings(deadline=None, max_examples=10)
@given(data=st.data())
def test_full_bptt_matches_torch_full_loss(task, data):
    """The full path (k1 = None) against torch autograd of the untruncated loss."""
    size, B, H, _, _, activation, seed = data.draw(truncation_case(task))
    p = make_seq_problem(task, size, B, H, seed, activation)
    r = seq.loss_and_grads(p.model, p.params, p.batch, p.state0)
    tp = torch_params(p.params)
    tloss = tseq.loss(p.model, tp, tseq.batch_to_torch(p.batch), torch.tensor(p.state0))
    tloss.backward()
    assert record("seq full loss", np.array(r.loss), tloss.detach().numpy()) <= TOL_TORCH
    for name, a, b in zip(PARAM_NAMES, grad_leaves(r.grads), torch_grad_leaves(tp)):
        assert record(f"seq full d{name}", a, b) <= TOL_TORCH, name


# ----------------------------------------------------------------- the loss does not depend on (k1, k2)


@pytest.mark.parametrize("task", TASKS)
@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_loss_is_the_same_for_every_truncation(task, data):
    size, B, H, k1, k2, activation, seed = data.draw(truncation_case(task))
    p = make_seq_problem(task, size, B, H, seed, activation)
    full = seq.loss_and_grads(p.model, p.params, p.batch, p.state0)
    r = seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k1, k2)
    assert r.loss == pytest.approx(full.loss, rel=TOL_SAME, abs=0.0)
    assert rel_error(r.final_state, full.final_state) <= TOL_SAME


# ----------------------------------------------------------------- NumPy against torch's cut graph


@pytest.mark.parametrize("task", TASKS)
@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_numpy_tbptt_matches_torch_truncated_objective(task, data):
    """Loss, final state and all five gradients agree with autograd of the cut graph (float64, 1e-10)."""
    size, B, H, k1, k2, activation, seed = data.draw(truncation_case(task))
    p = make_seq_problem(task, size, B, H, seed, activation)
    r = seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k1, k2)
    tloss, tgrads, tfinal = torch_truncated(p, k1, k2)
    assert record("tbptt loss", np.array(r.loss), np.array(tloss)) <= TOL_TORCH
    assert record("tbptt final state", r.final_state, tfinal) <= TOL_TORCH
    for name, a, b in zip(PARAM_NAMES, grad_leaves(r.grads), tgrads):
        assert record(f"tbptt d{name}", a, b) <= TOL_TORCH, (name, k1, k2)


@pytest.mark.parametrize("task", TASKS)
@settings(deadline=None, max_examples=12)
@given(data=st.data())
def test_numpy_tbptt_matches_untied_definition(task, data):
    """Independent of bpttlab.torch: the sum of per-step contributions kept by the definition."""
    size, B, H, k1, k2, activation, seed = data.draw(truncation_case(task))
    p = make_seq_problem(task, size, B, H, seed, activation)
    r = seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k1, k2)
    uloss, ugrads = untied_truncated(p, k1, k2)
    assert record("tbptt untied loss", np.array(r.loss), np.array(uloss)) <= TOL_TORCH
    for name, a, b in zip(PARAM_NAMES, grad_leaves(r.grads), ugrads):
        assert record(f"tbptt untied d{name}", a, b) <= TOL_TORCH, (name, k1, k2)


def test_untied_definition_reduces_to_full_bptt():
    """The untied construction itself: with k2 = T it must give torch's full gradient (a check of the check)."""
    p = make_seq_problem("sine", 12, 2, 4, seed=3)
    _, ugrads = untied_truncated(p, 3, 12)
    tp = torch_params(p.params)
    tseq.loss(p.model, tp, tseq.batch_to_torch(p.batch), torch.tensor(p.state0)).backward()
    for name, a, b in zip(PARAM_NAMES, ugrads, torch_grad_leaves(tp)):
        assert rel_error(a, b) <= TOL_TORCH, name
    _, short = untied_truncated(p, 3, 3)
    assert rel_error(short[1], ugrads[1]) > 1e-3  # dropping contributions does change dW_hh


# ----------------------------------------------------------------- truncation is biased


def long_dependency_problem():
    """The adding problem at T = 20: the marked numbers lie up to 19 steps before the loss."""
    return make_seq_problem("adding", 20, 8, 6, seed=11, state0_scale=0.0)


def test_truncation_biases_the_gradient_of_a_long_dependency():
    p = long_dependency_problem()
    full = seq.loss_and_grads(p.model, p.params, p.batch, p.state0)
    for k in (1, 3, 5):
        tr = seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k, k)
        bias, cosine = seq.truncation_bias(full.grads, tr.grads)
        assert bias > 1e-3, k
        assert cosine < 1.0 - 1e-6, k
        assert tr.loss == pytest.approx(full.loss, rel=TOL_SAME)
        # the readout has no recurrence: its gradient is never truncated
        assert rel_error(tr.grads.readout.dW_hy, full.grads.readout.dW_hy) <= TOL_SAME
        assert rel_error(tr.grads.cell.dW_hh, full.grads.cell.dW_hh) > 1e-3


def test_truncation_bias_of_identical_gradients_is_zero_and_cosine_one():
    p = long_dependency_problem()
    g = seq.loss_and_grads(p.model, p.params, p.batch, p.state0).grads
    copy = seq.SeqGrads(RNNGrads(*(a.copy() for a in g.cell)), ReadoutGrads(*(a.copy() for a in g.readout)))
    bias, cosine = seq.truncation_bias(g, copy)
    assert bias == 0.0
    assert cosine == pytest.approx(1.0, abs=1e-15)
    bias, cosine = seq.truncation_bias(g, seq.SeqGrads(*(type(c)(*(-a for a in c)) for c in g)))
    assert bias == pytest.approx(2.0, rel=1e-15) and cosine == pytest.approx(-1.0, abs=1e-15)


def test_truncation_bias_rejects_mismatched_sizes_and_zero_gradients():
    p = long_dependency_problem()
    g = seq.loss_and_grads(p.model, p.params, p.batch, p.state0).grads
    q = make_seq_problem("adding", 20, 8, 5, seed=11)  # H = 5 instead of 6
    other = seq.loss_and_grads(q.model, q.params, q.batch, q.state0).grads
    with pytest.raises(ValueError, match="truncated"):
        seq.truncation_bias(g, other)
    zero = seq.SeqGrads(*(type(c)(*(np.zeros_like(a) for a in c)) for c in g))
    with pytest.raises(ValueError, match="zero gradient"):
        seq.truncation_bias(zero, g)
    with pytest.raises(ValueError, match="zero gradient"):
        seq.truncation_bias(g, zero)


# ----------------------------------------------------------------- bad (k1, k2)


@pytest.mark.parametrize(
    "k1, k2, name",
    [(4, 3, "k2"), (2, 1, "k2"), (0, None, "k1"), (-1, 3, "k1"), (3, 0, "k2"), (None, 0, "k2")],
)
def test_bad_truncation_raises_naming_the_argument(k1, k2, name):
    p = make_seq_problem("adding", 10, 2, 3, seed=0)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        seq.loss_and_grads(p.model, p.params, p.batch, p.state0, k1, k2)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        tseq.truncated_objective(
            p.model, torch_params(p.params), tseq.batch_to_torch(p.batch), torch.tensor(p.state0), k1, k2
        )


def test_k2_smaller_than_k1_message_names_both():
    with pytest.raises(ValueError, match=r"k2: expected k2 >= k1 = 5.*got 2"):
        seq.check_truncation(10, 5, 2)


@pytest.mark.parametrize("k1", [1, 3, None])
def test_a_batch_without_any_loss_step_is_rejected(k1):
    """An all-zero mask has no objective: both the full and the truncated path raise (none returns grads=None)."""
    p = make_seq_problem("adding", 10, 2, 3, seed=0)
    batch = p.batch._replace(mask=np.zeros_like(p.batch.mask))
    with pytest.raises(ValueError, match="mask"):
        seq.loss_and_grads(p.model, p.params, batch, p.state0, k1)

