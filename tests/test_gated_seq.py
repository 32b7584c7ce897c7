"""Sequence models with any cell of the registry: training (full BPTT and TBPTT), one training step replayed
by hand, gradient-flow diagnostics of the gated cells, and bad input at the sequence level.

TBPTT's gradients themselves (NumPy against torch and torch.nn, k = T, the window schedule) are
tested in test_truncation.py; the cells' contract in test_cell_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import (
    TOL_TORCH,
    VARIANT_IDS,
    VARIANTS,
    make_seq_problem,
    record,
    seq_grad_names,
    seq_model,
    state_parts,
    torch_state,
    variant,
)

from bpttlab import diagnostics, rel_error, tasks
from bpttlab.init import init_cell, init_readout
from bpttlab.numpy import seq
from bpttlab.numpy.train import evaluate, train
from bpttlab.seqmodel import SeqModel, SeqParams
from bpttlab.torch import to_torch
from bpttlab.tree import leaves

GATED = [v for v in VARIANTS if v.spec.name != "rnn"]  # the RNN's training is tested in test_train.py
GATED_IDS = [v.id for v in GATED]


# ----------------------------------------------------------------- training


def make_model(v, seed: int, H: int = 8):
    rng = np.random.default_rng(seed)
    return seq_model(v), SeqParams(init_cell(v.spec.name, 2, H, rng), init_readout(H, 1, rng))


@pytest.mark.parametrize("v", GATED, ids=GATED_IDS)
@pytest.mark.parametrize("k1, k2", [(None, None), (4, 6)], ids=["full", "tbptt(4,6)"])
def test_training_reduces_the_loss_deterministically(v, k1, k2):
    """A few Adam steps on the adding problem (T = 10) lower the test loss; the same seed gives the same run."""
    test = tasks.adding_problem(10, 500, np.random.default_rng(99))
    runs = []
    for _ in range(2):
        model, params = make_model(v, seed=3)
        before, _ = evaluate(model, params, test)
        trained, log = train(
            model,
            params,
            lambda rng: tasks.adding_problem(10, 32, rng),
            40,
            np.random.default_rng(7),
            lr=2e-2,
            k1=k1,
            k2=k2,
        )
        after, _ = evaluate(model, trained, test)
        runs.append((before, after, trained, log))
    (before, after, trained, log), (_, after2, trained2, log2) = runs
    assert after < 0.5 * before, f"{v.id}: test loss {before:.4f} -> {after:.4f}"
    assert log.loss.shape == (40,) and np.all(np.isfinite(log.loss))
    assert after == after2
    for a, b in zip(leaves(trained), leaves(trained2)):
        assert np.array_equal(a, b)
    for a, b in zip(log, log2):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("v", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("k1", [None, 3])
def test_training_step_is_sgd_on_the_chunk_gradients(v, k1):
    """One training step with SGD, replayed by hand: from a zero state, each chunk of k1 steps (k2 = k1)
    starts from the state the previous chunk ended in, takes its gradient by seq.window_loss_and_grads
    and updates the parameters before the next chunk. k1 = None: one update with the full gradient."""
    p = make_seq_problem(v, "sine", 12, 2, 4, seed=21)
    model, params, batch = p.model, p.params, p.batch
    lr = 0.1
    trained, log = train(model, params, lambda rng: batch, 1, np.random.default_rng(0), lr=lr, optimizer="sgd", k1=k1)

    cell = v.spec.numpy()
    T, B = batch.x.shape[:2]
    N = float(batch.mask.sum())
    step = T if k1 is None else k1
    expected, state, losses = params, cell.zero_state(params.cell, B), []
    for s in range(0, T, step):
        e = min(s + step, T)
        value, grads, cache = seq.window_loss_and_grads(batch, state, expected, model, s, s, e, N)
        state = cell.state_at(cache, e - s)  # carried forward, history cut, with the parameters of this chunk
        expected = type(expected)(*(type(a)(*(q - lr * g for q, g in zip(a, b))) for a, b in zip(expected, grads)))
        losses.append(value)
    assert len(log.update_loss) == len(losses) == (1 if k1 is None else 4)
    assert np.allclose(log.update_loss, losses, rtol=1e-13, atol=0)
    for name, a, b in zip(seq_grad_names(params), leaves(trained), leaves(expected), strict=True):
        assert rel_error(a, b) < 1e-13, name


# ----------------------------------------------------------------- diagnostics of the gated cells


def autograd_state_grads(v, x, state0, params, dhs) -> np.ndarray:
    """dL/dh_t for L = sum(dhs * hs) by retain_grad on the torch twin's states (c_t held as its own node)."""
    tparams = to_torch(params, requires_grad=True)
    states = v.spec.torch().states(torch.tensor(x), torch_state(v.spec, state0), tparams, **v.options)[1:]
    hs = [state_parts(v.spec, s)[0] for s in states]
    for h in hs:
        h.retain_grad()
    (torch.stack(hs) * torch.tensor(dhs)).sum().backward()
    return np.stack([h.grad.numpy() for h in hs])


@pytest.mark.parametrize("v", GATED, ids=GATED_IDS)
def test_state_grad_norms_and_gradient_vs_lag_match_autograd(v):
    """diagnostics.state_grad_norms = batch mean of ||dL/dh_t||, gradient_vs_lag = the same for a unit
    loss on the last step read backwards, both against torch autograd (1e-10)."""
    p = make_seq_problem(v, "sine", 40, 3, 6, seed=17)
    cell = v.spec.numpy()
    hs, cache = cell.forward(p.batch.x, p.state0, p.params.cell, **v.options)
    dhs = np.random.default_rng(18).standard_normal(hs.shape)
    gs = autograd_state_grads(v, p.batch.x, p.state0, p.params.cell, dhs)
    norms = diagnostics.state_grad_norms(dhs, cache)
    assert norms.shape == (40,)
    assert record("diagnostics: gated state_grad_norms", norms, np.linalg.norm(gs, axis=-1).mean(axis=1)) <= TOL_TORCH
    lag = diagnostics.gradient_vs_lag(cache)
    u = np.zeros_like(hs)
    u[-1] = 1.0 / np.sqrt(hs.shape[-1])
    expected = np.linalg.norm(autograd_state_grads(v, p.batch.x, p.state0, p.params.cell, u), axis=-1).mean(axis=1)
    assert record("diagnostics: gated gradient_vs_lag", lag, expected[::-1]) <= TOL_TORCH
    assert lag[0] == pytest.approx(1.0, rel=1e-14)  # lag 0: the unit direction itself


# ----------------------------------------------------------------- bad input at the sequence level


def test_seq_model_refuses_a_bad_cell_or_option():
    with pytest.raises(ValueError, match=r"variant: expected one of \['torch', 'cho'\], got 'reset-before'"):
        SeqModel(cell="gru", variant="reset-before")
    with pytest.raises(ValueError, match=r"cell: expected one of \['rnn', 'lstm', 'gru'\], got 'GRU'"):
        SeqModel(cell="GRU")
    assert SeqModel(cell="gru", variant="cho").options() == {"variant": "cho"}
    assert SeqModel(cell="lstm", variant="cho").options() == {}
    for v in VARIANTS:
        assert seq_model(v).options() == v.options and seq_model(v).spec is v.spec


def test_seq_refuses_a_plain_tuple_as_lstm_state_and_params_of_another_cell():
    p = make_seq_problem(variant("lstm"), "adding", 8, 2, 3, seed=1)
    for k1, k2 in ((None, None), (3, 4)):
        with pytest.raises(TypeError, match=r"state0: expected LSTMState\(h, c\), got tuple"):
            seq.loss_and_grads(p.batch, tuple(p.state0), p.params, p.model, k1, k2)
    gru_params = init_cell("gru", 2, 3, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"^params.cell: expected LSTMParams, got GRUParams"):
        seq.loss_and_grads(p.batch, p.state0, p.params._replace(cell=gru_params), p.model)


def test_seq_arguments_come_in_the_cell_order():
    """data, state, params, then model: the old order (model before params) is refused with a TypeError."""
    p = make_seq_problem(variant("gru-torch"), "sine", 6, 2, 3, seed=2)
    with pytest.raises(TypeError, match=r"^model: expected a bpttlab.seqmodel.SeqModel, got SeqParams"):
        seq.loss_and_grads(p.batch, p.state0, p.model, p.params)
    with pytest.raises(TypeError, match=r"^model: expected a bpttlab.seqmodel.SeqModel, got SeqParams"):
        seq.forward(p.batch.x, p.state0, p.params, p.params)
