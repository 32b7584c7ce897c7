"""Sequence models with gated cells (LSTM, GRU in both variants): TBPTT(k1, k2) in NumPy against
torch's cut graph and torch.nn built-ins, k = T as full BPTT, training and gradient-flow diagnostics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab import diagnostics, rel_error, tasks
from bpttlab.init import init_cell, init_readout
from bpttlab.numpy import gru, lstm, seq
from bpttlab.numpy.train import evaluate, train
from bpttlab.optim import leaves
from bpttlab.params import LSTMState
from bpttlab.torch import nnmap, to_torch
from bpttlab.torch import gru as tgru
from bpttlab.torch import lstm as tlstm
from bpttlab.torch import seq as tseq
from strategies_gated import CELL_IDS, CELLS, TOL_TORCH, record, seeds

TASKS = ("adding", "sine", "temporal")  # an mse loss at the last step, an mse loss at every step, an xent loss
TOL_REASSOCIATED = 1e-12  # the same gradient summed chunk by chunk: only rounding differs


def make_batch(task: str, T: int, B: int, rng: np.random.Generator) -> tasks.TaskBatch:
    if task == "adding":
        return tasks.adding_problem(T, B, rng)
    if task == "temporal":
        return tasks.temporal_order(T, B, rng)
    x, y = tasks.noisy_sine(T, B, rng)
    return tasks.TaskBatch(x, y, np.ones((T, B)), "mse")


def make_seq_problem(cell: str, variant: str | None, task: str, T: int, B: int, H: int, seed: int):
    """(model, params, batch, state0): init_cell weights with random biases, a random initial state."""
    rng = np.random.default_rng(seed)
    batch = make_batch(task, T, B, rng)
    D = batch.x.shape[-1]
    O = 4 if task == "temporal" else 1
    p = init_cell(cell, D, H, rng)
    p = type(p)(*(a + 0.5 * rng.standard_normal(a.shape) if a.ndim == 1 else a for a in p))
    readout = init_readout(H, O, rng)._replace(b_y=0.1 * rng.standard_normal(O))
    model = seq.SeqModel(cell=cell, variant=variant or "torch", loss=batch.loss)
    h0, c0 = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
    state0 = LSTMState(h0, c0) if cell == "lstm" else h0
    return model, seq.SeqParams(p, readout), batch, state0


def torch_state(state0):
    return LSTMState(*(torch.tensor(a) for a in state0)) if isinstance(state0, LSTMState) else torch.tensor(state0)


def flat_state(state) -> np.ndarray:
    return np.stack([np.asarray(a) for a in state]) if isinstance(state, LSTMState) else np.asarray(state)


def tbptt_sizes(task: str):
    lo = 10 if task == "temporal" else 2
    return st.integers(lo, 25)


# ----------------------------------------------------------------- NumPy TBPTT against torch


def torch_truncated(model, params, batch, state0, k1, k2):
    """(loss, gradients as a flat list, final state) from autograd of bpttlab.torch's cut-graph objective."""
    tp = seq.SeqParams(to_torch(params.cell, requires_grad=True), to_torch(params.readout, requires_grad=True))
    tb = tseq.batch_to_torch(batch)
    objective = tseq.truncated_objective(model, tp, tb, torch_state(state0), k1, k2)
    objective.backward()
    with torch.no_grad():
        final = tseq.CELLS[model.cell].states(tb.x, torch_state(state0), tp.cell, **model.options())[-1]
    return objective.item(), [t.grad.numpy() for t in leaves(tp)], flat_state(final)


def nn_truncated(model, params, batch, state0, k1, k2):
    """The TBPTT(k1, k2) objective built from torch.nn.LSTM / GRU with mapped weights, independently of
    bpttlab.torch: each chunk's losses go through a window [w, e) that starts from a state computed
    under no_grad. Returns (loss, gradients in bpttlab's layout as a flat list)."""
    T = batch.x.shape[0]
    k1 = T if k1 is None else k1
    k2 = k1 if k2 is None else k2
    module = nnmap.to_nn(params.cell)
    W_hy, b_y = (torch.tensor(a, requires_grad=True) for a in params.readout)
    x, mask = torch.tensor(batch.x), torch.tensor(batch.mask)
    y = torch.tensor(batch.y)
    lstm_cell = isinstance(state0, LSTMState)
    s0 = tuple(torch.tensor(a[None]) for a in state0) if lstm_cell else torch.tensor(state0[None])
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
    if lstm_cell:
        assert rel_error(g["bias_ih_l0"], g["bias_hh_l0"]) <= TOL_TORCH  # b = bias_ih + bias_hh
        cell = [g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"]]
    else:
        cell = [g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"]]
    return total.item(), cell + [W_hy.grad.numpy(), b_y.grad.numpy()]


@st.composite
def tbptt_case(draw, task: str):
    T = draw(tbptt_sizes(task))
    k1 = draw(st.integers(1, T + 2))
    k2 = draw(st.integers(k1, T + 3))
    return T, draw(st.integers(1, 3)), draw(st.integers(1, 6)), k1, k2, draw(seeds)


def grad_names(params) -> list[str]:
    return ["d" + f for f in params.cell._fields] + ["dW_hy", "db_y"]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("cell, variant", CELLS, ids=CELL_IDS)
@settings(deadline=None, max_examples=12)
@given(data=st.data())
def test_numpy_tbptt_matches_torch_truncated_objective(cell, variant, task, data):
    """seq.loss_and_grads(k1, k2) = truncated_objective(...).backward(): loss, final state and every gradient, 1e-10."""
    T, B, H, k1, k2, seed = data.draw(tbptt_case(task))
    model, params, batch, state0 = make_seq_problem(cell, variant, task, T, B, H, seed)
    r = seq.loss_and_grads(model, params, batch, state0, k1, k2)
    tloss, tgrads, tfinal = torch_truncated(model, params, batch, state0, k1, k2)
    group = f"tbptt {cell}{'-' + variant if variant else ''}"
    assert record(group + " loss", np.array(r.loss), np.array(tloss)) <= TOL_TORCH
    assert record(group + " final state", flat_state(r.final_state), tfinal) <= TOL_TORCH
    ours = leaves(r.grads)
    assert len(ours) == len(tgrads) == len(grad_names(params))
    for name, a, b in zip(grad_names(params), ours, tgrads):
        assert record(group + " grads", a, b) <= TOL_TORCH, (name, k1, k2)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("cell, variant", [("lstm", None), ("gru", "torch")], ids=["lstm", "gru-torch"])
@settings(deadline=None, max_examples=8)
@given(data=st.data())
def test_numpy_tbptt_matches_torch_nn_windows(cell, variant, task, data):
    """Independently of bpttlab.torch: TBPTT(k1, k2) built from torch.nn.LSTM / GRU windows gives the same gradient."""
    T, B, H, k1, k2, seed = data.draw(tbptt_case(task))
    model, params, batch, state0 = make_seq_problem(cell, variant, task, T, B, H, seed)
    r = seq.loss_and_grads(model, params, batch, state0, k1, k2)
    nloss, ngrads = nn_truncated(model, params, batch, state0, k1, k2)
    group = f"tbptt {cell} vs torch.nn"
    assert record(group + " loss", np.array(r.loss), np.array(nloss)) <= TOL_TORCH
    for name, a, b in zip(grad_names(params), leaves(r.grads), ngrads):
        assert record(group + " grads", a, b) <= TOL_TORCH, (name, k1, k2)


def test_truncation_changes_the_gradient():
    """A check of the checks: on the adding problem a short window gives a different gradient from full BPTT."""
    for cell, variant in CELLS:
        model, params, batch, state0 = make_seq_problem(cell, variant, "adding", 20, 3, 4, seed=5)
        full = seq.loss_and_grads(model, params, batch, state0)
        cut = seq.loss_and_grads(model, params, batch, state0, 5, 5)
        assert cut.loss == pytest.approx(full.loss, rel=1e-13)
        rel, _ = seq.truncation_bias(full.grads, cut.grads)
        assert rel > 1e-3, (cell, variant)


# ----------------------------------------------------------------- k = T is full BPTT


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("cell, variant", CELLS, ids=CELL_IDS)
@settings(deadline=None, max_examples=8)
@given(data=st.data())
def test_k_equal_T_is_full_bptt(cell, variant, task, data):
    """k1 = k2 = T gives the gradient of the untruncated loss by torch autograd (1e-10); TBPTT(k1, T) with
    k1 < T backpropagates every chunk to the start, so it equals full BPTT up to rounding."""
    T, B, H, _, _, seed = data.draw(tbptt_case(task))
    model, params, batch, state0 = make_seq_problem(cell, variant, task, T, B, H, seed)
    r = seq.loss_and_grads(model, params, batch, state0, T, T)
    tp = seq.SeqParams(to_torch(params.cell, requires_grad=True), to_torch(params.readout, requires_grad=True))
    tloss = tseq.loss(model, tp, tseq.batch_to_torch(batch), torch_state(state0))
    tloss.backward()
    assert rel_error(np.array(r.loss), tloss.detach().numpy()) <= TOL_TORCH
    for name, a, t in zip(grad_names(params), leaves(r.grads), leaves(tp)):
        assert record(f"full {cell} grads", a, t.grad.numpy()) <= TOL_TORCH, name
    full = seq.loss_and_grads(model, params, batch, state0)
    k1 = data.draw(st.integers(1, T), label="k1 with k2 = T")
    chunked = seq.loss_and_grads(model, params, batch, state0, k1, T)
    for name, a, b in zip(grad_names(params), leaves(chunked.grads), leaves(full.grads)):
        assert rel_error(a, b) <= TOL_REASSOCIATED, (k1, name)
    assert rel_error(flat_state(chunked.final_state), flat_state(full.final_state)) <= TOL_REASSOCIATED


# ----------------------------------------------------------------- training


def make_model(cell: str, variant: str, seed: int, H: int = 8):
    rng = np.random.default_rng(seed)
    model = seq.SeqModel(cell=cell, variant=variant)
    return model, seq.SeqParams(init_cell(cell, 2, H, rng), init_readout(H, 1, rng))


@pytest.mark.parametrize("cell, variant", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("k1, k2", [(None, None), (4, 6)], ids=["full", "tbptt(4,6)"])
def test_training_reduces_the_loss_deterministically(cell, variant, k1, k2):
    """A few Adam steps on the adding problem (T = 10) lower the test loss; the same seed gives the same run."""
    test = tasks.adding_problem(10, 500, np.random.default_rng(99))
    runs = []
    for _ in range(2):
        model, params = make_model(cell, variant or "torch", seed=3)
        before, _ = evaluate(model, params, test)
        trained, log = train(
            model, params, lambda rng: tasks.adding_problem(10, 32, rng), 40, np.random.default_rng(7),
            lr=2e-2, k1=k1, k2=k2,
        )
        after, _ = evaluate(model, trained, test)
        runs.append((before, after, trained, log))
    (before, after, trained, log), (_, after2, trained2, log2) = runs
    assert after < 0.5 * before, f"{cell}: test loss {before:.4f} -> {after:.4f}"
    assert log.loss.shape == (40,) and np.all(np.isfinite(log.loss))
    assert after == after2
    for a, b in zip(leaves(trained), leaves(trained2)):
        assert np.array_equal(a, b)
    for a, b in zip(log, log2):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("cell, variant", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("k1", [None, 3])
def test_training_step_is_sgd_on_the_chunk_gradients(cell, variant, k1):
    """One training step with SGD, replayed by hand: from a zero state, each chunk of k1 steps (k2 = k1)
    starts from the state the previous chunk ended in, takes its gradient by seq.window_loss_and_grads
    and updates the parameters before the next chunk. k1 = None: one update with the full gradient."""
    model, params, batch, _ = make_seq_problem(cell, variant, "sine", 12, 2, 4, seed=21)  # T = 4 k1: w = s
    lr = 0.1
    trained, log = train(model, params, lambda rng: batch, 1, np.random.default_rng(0), lr=lr, optimizer="sgd", k1=k1)

    module = lstm if cell == "lstm" else gru
    T, B = batch.x.shape[:2]
    N = float(batch.mask.sum())
    step = T if k1 is None else k1
    expected, state, losses = params, module.zero_state(params.cell, B), []
    for s in range(0, T, step):
        e = min(s + step, T)
        value, grads, _ = seq.window_loss_and_grads(model, expected, batch, state, s, s, e, N)
        _, cache = module.forward(batch.x[s:e], state, expected.cell, **model.options())
        state = module.state_at(cache, e - s)  # carried forward, history cut, with the parameters of this chunk
        expected = type(expected)(*(type(a)(*(p - lr * g for p, g in zip(a, b))) for a, b in zip(expected, grads)))
        losses.append(value)
    assert len(log.update_loss) == len(losses) == (1 if k1 is None else 4)
    assert np.allclose(log.update_loss, losses, rtol=1e-13, atol=0)
    for name, a, b in zip(grad_names(params), leaves(trained), leaves(expected)):
        assert rel_error(a, b) < 1e-13, name


# ----------------------------------------------------------------- diagnostics


def torch_state_grads(cell, variant, x, state0, params, dhs) -> np.ndarray:
    """dL/dh_t for L = sum(dhs * hs) by autograd (h_t a node of the graph, c_t held fixed for the LSTM)."""
    tp = to_torch(params, requires_grad=True)
    if cell == "lstm":
        states = tlstm.states(torch.tensor(x), torch_state(state0), tp)[1:]
        hs = [s.h for s in states]
    else:
        hs = tgru.states(torch.tensor(x), torch.tensor(state0), tp, variant)[1:]
    for h in hs:
        h.retain_grad()
    (torch.stack(hs) * torch.tensor(dhs)).sum().backward()
    return np.stack([h.grad.numpy() for h in hs])


@pytest.mark.parametrize("cell, variant", CELLS, ids=CELL_IDS)
def test_state_grad_norms_match_torch_autograd(cell, variant):
    """diagnostics.state_grad_norms = batch mean of ||dL/dh_t|| with dL/dh_t from torch autograd (1e-10)."""
    model, params, batch, state0 = make_seq_problem(cell, variant, "sine", 40, 3, 6, seed=17)
    module = lstm if cell == "lstm" else gru
    options = {} if cell == "lstm" else {"variant": variant}
    hs, cache = module.forward(batch.x, state0, params.cell, **options)
    dhs = np.random.default_rng(18).standard_normal(hs.shape)
    gs = torch_state_grads(cell, variant, batch.x, state0, params.cell, dhs)
    assert record(f"state grads {cell}", module.state_grads(dhs, cache), gs) <= TOL_TORCH
    norms = diagnostics.state_grad_norms(dhs, cache)
    assert norms.shape == (40,)
    assert record(f"state grad norms {cell}", norms, np.linalg.norm(gs, axis=-1).mean(axis=1)) <= TOL_TORCH
    # gradient_vs_lag: a loss on the last step only, lag k = T - 1 - t
    lag = diagnostics.gradient_vs_lag(cache)
    u = np.zeros_like(hs)
    u[-1] = 1.0 / np.sqrt(hs.shape[-1])
    expected = np.linalg.norm(torch_state_grads(cell, variant, batch.x, state0, params.cell, u), axis=-1).mean(axis=1)
    assert record(f"gradient vs lag {cell}", lag, expected[::-1]) <= TOL_TORCH
    assert lag[0] == pytest.approx(1.0, rel=1e-14)  # lag 0: the unit direction itself


# ----------------------------------------------------------------- bad input at the sequence level


def test_seq_model_rejects_bad_cell_and_variant():
    with pytest.raises(ValueError, match=r"variant: expected one of \['torch', 'cho'\], got 'reset-before'"):
        seq.SeqModel(cell="gru", variant="reset-before")
    with pytest.raises(ValueError, match=r"cell: expected one of \['rnn', 'lstm', 'gru'\], got 'GRU'"):
        seq.SeqModel(cell="GRU")
    assert seq.SeqModel(cell="gru", variant="cho").options() == {"variant": "cho"}
    assert seq.SeqModel(cell="lstm", variant="cho").options() == {}


def test_seq_rejects_a_plain_tuple_as_lstm_state():
    model, params, batch, state0 = make_seq_problem("lstm", None, "adding", 8, 2, 3, seed=1)
    with pytest.raises(TypeError, match=r"state0: expected LSTMState\(h, c\), got tuple"):
        seq.loss_and_grads(model, params, batch, tuple(state0))
    with pytest.raises(TypeError, match=r"state0: expected LSTMState\(h, c\), got tuple"):
        seq.loss_and_grads(model, params, batch, tuple(state0), 3, 4)
    gru_params = init_cell("gru", 2, 3, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"params: expected LSTMParams, got GRUParams"):
        seq.loss_and_grads(model, params._replace(cell=gru_params), batch, state0)
