"""Truncated BPTT, TBPTT(k1, k2), for every cell of the registry.

- the window schedule ``bpttlab.truncation.windows`` on its own;
- ``bpttlab.numpy.seq.loss_and_grads(k1, k2)`` (gradients by hand) against autograd of
  ``bpttlab.torch.seq.truncated_objective`` (the cut graph) and, where torch.nn has the cell,
  against the same objective built from torch.nn windows here, independently of bpttlab.torch;
- k1 = k2 = T is full BPTT; the loss and the final state do not depend on (k1, k2);
- for the RNN, against the definition with untied weights (per-step parameter copies);
- truncation biases the gradient of a long dependency; bad (k1, k2) and empty masks are refused.

One builder (``support.make_seq_problem``) makes every problem: any Variant, a task batch
(adding, copy, temporal order, sine), random biases and a random initial state.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from support import (
    TOL_REASSOCIATED,
    TOL_SAME,
    TOL_TORCH,
    VARIANT_IDS,
    VARIANTS,
    flat_state,
    make_seq_problem,
    record,
    seq_grad_names,
    torch_state,
    truncation_case,
    variant,
)

from bpttlab import rel_error
from bpttlab.numpy import seq
from bpttlab.params import ReadoutGrads, RNNGrads
from bpttlab.seqmodel import SeqParams
from bpttlab.torch import nnmap, to_torch
from bpttlab.torch import seq as tseq
from bpttlab.tree import leaves
from bpttlab.truncation import Window, check_truncation, windows

by_variant = pytest.mark.parametrize("v", VARIANTS, ids=VARIANT_IDS)
RNN_VARIANTS = [v for v in VARIANTS if v.spec.name == "rnn"]


def grads_of(p, k1=None, k2=None):
    """(result, flat list of gradients) of NumPy's loss_and_grads."""
    r = seq.loss_and_grads(p.batch, p.state0, p.params, p.model, k1, k2)
    return r, [np.asarray(g) for g in leaves(r.grads)]


def torch_params(params: SeqParams) -> SeqParams:
    return SeqParams(to_torch(params.cell, requires_grad=True), to_torch(params.readout, requires_grad=True))


# ----------------------------------------------------------------- the window schedule


@pytest.mark.parametrize(
    "T, k1, k2, expected",
    [
        (6, None, None, [(0, 0, 6)]),  # full BPTT: one window
        (6, 6, 6, [(0, 0, 6)]),
        (6, 9, None, [(0, 0, 6)]),  # k1 > T acts like T
        (1, 1, 1, [(0, 0, 1)]),  # T = 1
        (6, 2, None, [(0, 0, 2), (2, 2, 4), (4, 4, 6)]),  # k2 = k1: windows do not overlap
        (5, 1, 1, [(t, t, t + 1) for t in range(5)]),
        (7, 3, 5, [(0, 0, 3), (1, 3, 6), (2, 6, 7)]),  # k1 < k2; last chunk short, its window still k2 long
        (6, 4, 4, [(0, 0, 4), (2, 4, 6)]),  # last chunk of 2 losses, window of 4 steps
        (5, 2, 10, [(0, 0, 2), (0, 2, 4), (0, 4, 5)]),  # k2 > T: every window starts at 0
    ],
)
def test_window_schedule(T, k1, k2, expected):
    """windows(T, k1, k2): chunk c holds the losses of [c k1, min((c + 1) k1, T)), backpropagated from its
    stop to max(0, stop - k2)."""
    got = windows(T, k1, k2)
    assert got == [Window(*w) for w in expected]
    assert all(isinstance(w, Window) for w in got)


@settings(deadline=None, max_examples=40)
@given(T=st.integers(1, 40), data=st.data())
def test_windows_partition_the_loss_steps(T, data):
    """For any 1 <= k1 <= k2 the chunks cover every loss step exactly once, in order, k1 at a time
    (the last may be shorter); every window is at most k2 steps and ends at its chunk's stop."""
    k1 = data.draw(st.integers(1, T + 3), label="k1")
    k2 = data.draw(st.integers(k1, T + 5), label="k2")
    ws = windows(T, k1, k2)
    covered = [t for w in ws for t in range(w.first_loss, w.stop)]
    assert covered == list(range(T))
    assert all(w.stop - w.first_loss == min(k1, T) for w in ws[:-1])
    assert 1 <= ws[-1].stop - ws[-1].first_loss <= min(k1, T)
    for w in ws:
        assert 0 <= w.start <= w.first_loss < w.stop <= T
        assert w.stop - w.start == min(k2, w.stop)


@pytest.mark.parametrize(
    "T, k1, k2, error, match",
    [
        (10, 5, 2, ValueError, r"^k2: expected k2 >= k1 = 5 .*got 2"),
        (10, 0, None, ValueError, r"^k1: "),
        (10, -1, 3, ValueError, r"^k1: "),
        (10, 3, 0, ValueError, r"^k2: "),
        (10, None, 0, ValueError, r"^k2: "),
        (0, None, None, ValueError, r"^T: "),
        (10, True, None, TypeError, r"^k1: "),
        (10, 2.0, None, TypeError, r"^k1: "),
    ],
)
def test_bad_truncation_is_refused_naming_the_argument(T, k1, k2, error, match):
    with pytest.raises(error, match=match):
        windows(T, k1, k2)
    with pytest.raises(error, match=match):
        check_truncation(T, k1, k2)


# ----------------------------------------------------------------- NumPy against torch and torch.nn


def torch_truncated(p, k1, k2):
    """(loss, gradients as a flat list, final state) from autograd of bpttlab.torch's cut-graph objective."""
    tp = torch_params(p.params)
    tb = tseq.batch_to_torch(p.batch)
    objective = tseq.truncated_objective(tb, torch_state(p.spec, p.state0), tp, p.model, k1, k2)
    objective.backward()
    with torch.no_grad():
        final = p.spec.torch().states(tb.x, torch_state(p.spec, p.state0), tp.cell, **p.model.options())[-1]
    return objective.item(), [t.grad.numpy() for t in leaves(tp)], flat_state(p.spec, final)


def nn_truncated(p, k1, k2):
    """The TBPTT(k1, k2) objective built from the torch.nn module of the cell with mapped weights, written
    here independently of bpttlab.torch and of bpttlab.truncation: chunk [s, e) of k1 loss steps goes
    through the window [w, e), w = max(0, e - k2), which starts from a state computed under no_grad.
    Returns (loss, gradients in bpttlab's layout as a flat list)."""
    spec, batch = p.spec, p.batch
    T = batch.x.shape[0]
    k1 = T if k1 is None else min(k1, T)
    k2 = k1 if k2 is None else k2
    module = nnmap.to_nn(p.params.cell, **({"nonlinearity": p.model.activation} if spec.name == "rnn" else {}))
    W_hy, b_y = (torch.tensor(a, requires_grad=True) for a in p.params.readout)
    x, mask, y = torch.tensor(batch.x), torch.tensor(batch.mask), torch.tensor(batch.y)
    parts = [torch.tensor(a[None]) for a in ([p.state0] if spec.state is None else list(p.state0))]
    s0 = parts[0] if spec.state is None else tuple(parts)
    N = mask.sum()
    total = torch.zeros((), dtype=torch.float64)
    for s in range(0, T, k1):
        e = min(s + k1, T)
        w = max(0, e - k2)
        start = s0
        if w > 0:
            with torch.no_grad():
                _, start = module(x[:w], s0)
        out, _ = module(x[w:e], start)
        ys = out @ W_hy.T + b_y
        m = mask[w:e].clone()
        m[: s - w] = 0.0
        if batch.loss == "mse":
            per_step = ((ys - y[w:e]) ** 2).sum(-1) / ys.shape[-1]
        else:
            per_step = F.cross_entropy(ys.reshape(-1, ys.shape[-1]), y[w:e].reshape(-1), reduction="none")
            per_step = per_step.reshape(m.shape)
        total = total + (m * per_step).sum() / N
    total.backward()
    g = {n: q.grad.numpy() for n, q in module.named_parameters()}
    cell = [g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"]]
    if spec.biases == 2:
        cell.append(g["bias_hh_l0"])
    else:  # one bpttlab bias = bias_ih + bias_hh: both get its gradient
        assert rel_error(g["bias_ih_l0"], g["bias_hh_l0"]) <= TOL_TORCH
    return total.item(), cell + [W_hy.grad.numpy(), b_y.grad.numpy()]


@by_variant
@settings(deadline=None, max_examples=12)
@given(case=truncation_case())
def test_numpy_tbptt_matches_torch_and_torch_nn(v, case):
    """seq.loss_and_grads(k1, k2) = autograd of torch's truncated_objective: loss, final state and every
    gradient to 1e-10; and the same against TBPTT built from torch.nn windows where torch.nn has the cell."""
    p = make_seq_problem(v, case.task, case.T, case.B, case.H, case.seed)
    r, ours = grads_of(p, case.k1, case.k2)
    names = seq_grad_names(p.params)
    assert len(ours) == len(names)
    tloss, tgrads, tfinal = torch_truncated(p, case.k1, case.k2)
    assert record("tbptt: numpy vs torch", np.array(r.loss), np.array(tloss)) <= TOL_TORCH
    assert record("tbptt: numpy vs torch", flat_state(p.spec, r.final_state), tfinal) <= TOL_TORCH
    for name, a, b in zip(names, ours, tgrads, strict=True):
        assert record("tbptt: numpy vs torch", a, b) <= TOL_TORCH, (name, case)
    if v.has_nn:
        nloss, ngrads = nn_truncated(p, case.k1, case.k2)
        assert record("tbptt: numpy vs torch.nn", np.array(r.loss), np.array(nloss)) <= TOL_TORCH
        for name, a, b in zip(names, ours, ngrads, strict=True):
            assert record("tbptt: numpy vs torch.nn", a, b) <= TOL_TORCH, (name, case)


# ----------------------------------------------------------------- k = T is full BPTT; the loss is the same for all


@by_variant
@settings(deadline=None, max_examples=8)
@given(case=truncation_case(), data=st.data())
def test_k_equal_T_is_full_bptt_and_the_loss_does_not_depend_on_k(v, case, data):
    """k1 = k2 = T, k1 = T < k2, k1 > T and k1 = None give exactly the full gradient, which equals autograd
    of the untruncated torch loss (1e-10); k2 >= T with any k1 gives it up to rounding (every chunk reaches
    the start); any (k1, k2) leaves the loss and the final state unchanged."""
    p = make_seq_problem(v, case.task, case.T, case.B, case.H, case.seed)
    T = case.T
    ref, ref_grads = grads_of(p)
    for k1, k2 in [(T, T), (T, None), (T, T + 3), (T + 1, None), (None, T + 2)]:
        r, g = grads_of(p, k1, k2)
        assert r.loss == ref.loss
        assert all(np.array_equal(a, b) for a, b in zip(g, ref_grads)), (k1, k2)
        assert np.array_equal(flat_state(p.spec, r.final_state), flat_state(p.spec, ref.final_state))
    tp = torch_params(p.params)
    tloss = tseq.loss(tseq.batch_to_torch(p.batch), torch_state(p.spec, p.state0), tp, p.model)
    tloss.backward()
    assert record("tbptt: full numpy vs torch", np.array(ref.loss), tloss.detach().numpy()) <= TOL_TORCH
    for name, a, t in zip(seq_grad_names(p.params), ref_grads, leaves(tp), strict=True):
        assert record("tbptt: full numpy vs torch", a, t.grad.numpy()) <= TOL_TORCH, name
    k1 = data.draw(st.integers(1, T), label="k1 with k2 = T")
    _, chunked = grads_of(p, k1, T)
    for name, a, b in zip(seq_grad_names(p.params), chunked, ref_grads):
        assert rel_error(a, b) <= TOL_REASSOCIATED, (k1, name)
    r = seq.loss_and_grads(p.batch, p.state0, p.params, p.model, case.k1, case.k2)
    assert r.loss == pytest.approx(ref.loss, rel=TOL_SAME, abs=0.0)
    assert rel_error(flat_state(p.spec, r.final_state), flat_state(p.spec, ref.final_state)) <= TOL_SAME


# ----------------------------------------------------------------- the RNN against the untied definition


def untied_truncated(p, k1, k2):
    """The TBPTT(k1, k2) gradient of the RNN from its definition: per-step copies of W_xh, W_hh, b_h.

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


@pytest.mark.parametrize("v", RNN_VARIANTS, ids=[v.id for v in RNN_VARIANTS])
@settings(deadline=None, max_examples=6)
@given(case=truncation_case())
def test_rnn_tbptt_matches_the_untied_definition(v, case):
    """Independently of bpttlab.torch: the sum of the per-step contributions the definition keeps."""
    p = make_seq_problem(v, case.task, case.T, case.B, case.H, case.seed)
    r, ours = grads_of(p, case.k1, case.k2)
    uloss, ugrads = untied_truncated(p, case.k1, case.k2)
    assert record("tbptt: rnn vs untied definition", np.array(r.loss), np.array(uloss)) <= TOL_TORCH
    for name, a, b in zip(seq_grad_names(p.params), ours, ugrads, strict=True):
        assert record("tbptt: rnn vs untied definition", a, b) <= TOL_TORCH, (name, case)


def test_untied_definition_reduces_to_full_bptt():
    """The untied construction itself: with k2 = T it must give torch's full gradient (a check of the check)."""
    p = make_seq_problem(variant("rnn-tanh"), "sine", 12, 2, 4, seed=3)
    _, ugrads = untied_truncated(p, 3, 12)
    tp = torch_params(p.params)
    tseq.loss(tseq.batch_to_torch(p.batch), torch.tensor(p.state0), tp, p.model).backward()
    for name, a, t in zip(seq_grad_names(p.params), ugrads, leaves(tp)):
        assert rel_error(a, t.grad.numpy()) <= TOL_TORCH, name
    _, short = untied_truncated(p, 3, 3)
    assert rel_error(short[1], ugrads[1]) > 1e-3  # dropping contributions does change dW_hh


# ----------------------------------------------------------------- truncation is biased


def long_dependency_problem(v, H=6):
    """The adding problem at T = 20 from a zero state: the marked numbers lie up to 19 steps before the loss."""
    return make_seq_problem(v, "adding", 20, 8, H, seed=11, state_scale=0.0)


@by_variant
def test_truncation_biases_the_gradient_of_a_long_dependency(v):
    """Short windows change the recurrent gradient (not the loss, not the readout's gradient)."""
    p = long_dependency_problem(v)
    full, _ = grads_of(p)
    w_h = "d" + next(f for f, axes in p.spec.fields.items() if axes == ("G", "H"))
    for k in (1, 3, 5):
        tr, _ = grads_of(p, k, k)
        bias, cosine = seq.truncation_bias(full.grads, tr.grads)
        assert bias > 1e-3 and cosine < 1.0 - 1e-6, k
        assert tr.loss == pytest.approx(full.loss, rel=TOL_SAME)
        # the readout has no recurrence: its gradient is never truncated
        assert rel_error(tr.grads.readout.dW_hy, full.grads.readout.dW_hy) <= TOL_SAME
        assert rel_error(getattr(tr.grads.cell, w_h), getattr(full.grads.cell, w_h)) > 1e-3


def test_truncation_bias_of_identical_and_opposite_gradients():
    p = long_dependency_problem(variant("rnn-tanh"))
    g = grads_of(p)[0].grads
    copy = seq.SeqGrads(RNNGrads(*(a.copy() for a in g.cell)), ReadoutGrads(*(a.copy() for a in g.readout)))
    bias, cosine = seq.truncation_bias(g, copy)
    assert bias == 0.0
    assert cosine == pytest.approx(1.0, abs=1e-15)
    bias, cosine = seq.truncation_bias(g, seq.SeqGrads(*(type(c)(*(-a for a in c)) for c in g)))
    assert bias == pytest.approx(2.0, rel=1e-15) and cosine == pytest.approx(-1.0, abs=1e-15)


def test_truncation_bias_rejects_mismatched_sizes_and_zero_gradients():
    p = long_dependency_problem(variant("rnn-tanh"))
    g = grads_of(p)[0].grads
    other = grads_of(long_dependency_problem(variant("rnn-tanh"), H=5))[0].grads
    with pytest.raises(ValueError, match="^truncated: "):
        seq.truncation_bias(g, other)
    zero = seq.SeqGrads(*(type(c)(*(np.zeros_like(a) for a in c)) for c in g))
    with pytest.raises(ValueError, match="zero gradient"):
        seq.truncation_bias(zero, g)
    with pytest.raises(ValueError, match="zero gradient"):
        seq.truncation_bias(g, zero)


# ----------------------------------------------------------------- bad (k1, k2), empty masks


@pytest.mark.parametrize(
    "k1, k2, name",
    [(4, 3, "k2"), (2, 1, "k2"), (0, None, "k1"), (-1, 3, "k1"), (3, 0, "k2"), (None, 0, "k2")],
)
def test_both_backends_refuse_bad_truncation(k1, k2, name):
    p = make_seq_problem(variant("lstm"), "adding", 10, 2, 3, seed=0)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        seq.loss_and_grads(p.batch, p.state0, p.params, p.model, k1, k2)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        tseq.truncated_objective(
            tseq.batch_to_torch(p.batch), torch_state(p.spec, p.state0), torch_params(p.params), p.model, k1, k2
        )


@pytest.mark.parametrize("k1", [1, 3, None])
def test_a_batch_without_any_loss_step_is_refused(k1):
    """An all-zero mask has no objective: the full and the truncated path raise on both backends."""
    p = make_seq_problem(variant("gru-cho"), "adding", 10, 2, 3, seed=0)
    batch = p.batch._replace(mask=np.zeros_like(p.batch.mask))
    with pytest.raises(ValueError, match="mask"):
        seq.loss_and_grads(batch, p.state0, p.params, p.model, k1)
    with pytest.raises(ValueError, match="mask"):
        tseq.truncated_objective(
            tseq.batch_to_torch(batch), torch_state(p.spec, p.state0), torch_params(p.params), p.model, k1
        )
