"""ARTBP (bpttlab.numpy.artbp): randomised truncation with compensation, checked against full BPTT."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support import TOL_EXPECTATION, TOL_REASSOCIATED, make_seq_problem

from bpttlab import cells, rel_error, tasks
from bpttlab.numpy import seq
from bpttlab.numpy.artbp import ArtbpResult, artbp_loss_and_grads
from bpttlab.seqmodel import SeqModel
from bpttlab.tree import leaves


def flat(grads) -> np.ndarray:
    return np.concatenate([np.ravel(v) for v in leaves(grads)])


def sine_problem(v: cells.Variant, T: int, B: int = 3, H: int = 5, seed: int = 0):
    """support.make_seq_problem on noisy sines (a loss on every step): batch, model, params, state0."""
    p = make_seq_problem(v, "sine", T, B, H, seed)
    return p.batch, p.model, p.params, p.state0


def variant(name: str) -> cells.Variant:
    return next(v for v in cells.VARIANTS if v.id == name)


def full_grads(batch, state0, params, model) -> np.ndarray:
    return flat(seq.loss_and_grads(batch, state0, params, model).grads)


# ----------------------------------------------------------------- keep = 1 is full BPTT


@pytest.mark.parametrize("v", cells.VARIANTS, ids=lambda v: v.id)
def test_keep_one_is_full_bptt(v):
    batch, model, params, state0 = sine_problem(v, T=9)
    full = seq.loss_and_grads(batch, state0, params, model)
    res = artbp_loss_and_grads(batch, state0, params, model, np.random.default_rng(1), 1.0)
    assert isinstance(res, ArtbpResult)
    assert not res.cuts.any() and res.cuts.shape == (9,) and res.cuts.dtype == np.bool_
    assert abs(res.loss - full.loss) <= TOL_REASSOCIATED * abs(full.loss)
    assert type(res.grads.cell) is type(full.grads.cell)
    for a, b in zip(leaves(res.grads), leaves(full.grads)):
        assert rel_error(a, b) < TOL_REASSOCIATED


def test_keep_one_is_full_bptt_on_the_adding_problem():
    v = variant("lstm")
    rng = np.random.default_rng(3)
    batch = tasks.adding_problem(10, 4, rng)
    model = SeqModel(cell="lstm")
    params = seq.init_params(model, 2, 6, 1, rng)
    state0 = v.spec.numpy().zero_state(params.cell, 4)
    keep = np.ones(10)
    res = artbp_loss_and_grads(batch, state0, params, model, rng, keep)
    assert rel_error(flat(res.grads), full_grads(batch, state0, params, model)) < TOL_REASSOCIATED


# ----------------------------------------------------------------- exact unbiasedness by enumeration


def exact_expectation(batch, state0, params, model, keep: np.ndarray) -> np.ndarray:
    """sum over all 2^(T-1) cut patterns of P(pattern) * gradient(pattern)."""
    T = batch.x.shape[0]
    total = 0.0
    prob_sum = 0.0
    for bits in itertools.product((False, True), repeat=T - 1):
        cuts = np.array((False,) + bits)
        p = float(np.prod(np.where(cuts[1:], 1.0 - keep[1:], keep[1:])))
        g = artbp_loss_and_grads(batch, state0, params, model, None, keep, cuts=cuts).grads
        total = total + p * flat(g)
        prob_sum += p
    assert abs(prob_sum - 1.0) < TOL_REASSOCIATED
    return total


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm"])
def test_the_expectation_over_every_cut_pattern_is_the_full_gradient(name):
    T = 12  # 2^11 patterns
    batch, model, params, state0 = sine_problem(variant(name), T=T, B=2, H=4, seed=5)
    keep = np.linspace(0.3, 0.9, T)  # a different c_t at every boundary
    expected = exact_expectation(batch, state0, params, model, keep)
    full = full_grads(batch, state0, params, model)
    assert rel_error(expected, full) < TOL_EXPECTATION
    # and a single pattern with cuts is not the full gradient (the test has teeth)
    cuts = np.zeros(T, dtype=bool)
    cuts[5] = True
    one = flat(artbp_loss_and_grads(batch, state0, params, model, None, keep, cuts=cuts).grads)
    assert rel_error(one, full) > 1e-3


def test_drawing_is_reproducible_and_matches_passing_the_drawn_cuts():
    batch, model, params, state0 = sine_problem(variant("gru-torch"), T=15)
    drawn = artbp_loss_and_grads(batch, state0, params, model, np.random.default_rng(42), 0.6)
    again = artbp_loss_and_grads(batch, state0, params, model, np.random.default_rng(42), 0.6)
    fixed = artbp_loss_and_grads(batch, state0, params, model, None, 0.6, cuts=drawn.cuts)
    assert drawn.cuts.any() and not drawn.cuts.all()
    np.testing.assert_array_equal(drawn.cuts, again.cuts)
    np.testing.assert_array_equal(flat(drawn.grads), flat(again.grads))
    np.testing.assert_array_equal(flat(drawn.grads), flat(fixed.grads))
    # the pattern is one uniform per boundary, in time order
    u = np.random.default_rng(42).random(14)
    np.testing.assert_array_equal(drawn.cuts[1:], u >= 0.6)
    assert not drawn.cuts[0]
    # the loss does not depend on the cuts
    assert abs(drawn.loss - seq.loss_and_grads(batch, state0, params, model).loss) <= TOL_REASSOCIATED * drawn.loss


# ----------------------------------------------------------------- Monte Carlo


@pytest.fixture(scope="module")
def rnn_draws():
    """ARTBP gradients of a tanh-RNN problem at T = 20: 2000 draws at c = 0.7, 300 at c = 0.5 and at c = 0.9."""
    batch, model, params, state0 = sine_problem(variant("rnn-tanh"), T=20, B=3, H=5, seed=11)
    full = full_grads(batch, state0, params, model)
    rng = np.random.default_rng(2017)

    def draws(n, c):
        return np.stack([flat(artbp_loss_and_grads(batch, state0, params, model, rng, c).grads) for _ in range(n)])

    return full, draws(2000, 0.7), draws(300, 0.5), draws(300, 0.9)


def test_the_monte_carlo_mean_approaches_the_full_gradient(rnn_draws):
    full, g, _, _ = rnn_draws
    # the error of a 200-draw mean, as a root mean square over the 10 disjoint blocks of 200 draws (one block
    # alone can land close to the gradient by chance), against the error of the mean of all 2000 draws
    blocks = [rel_error(block.mean(axis=0), full) for block in np.split(g, 10)]
    err_200 = float(np.sqrt(np.mean(np.square(blocks))))
    err_2000 = rel_error(g.mean(axis=0), full)
    print(
        f"ARTBP c = 0.7, T = 20: relative error of the mean {err_200:.4f} (200 draws, RMS over 10 blocks), "
        f"{err_2000:.4f} (2000 draws)"
    )
    assert err_2000 < 0.1
    assert err_2000 < err_200


def test_smaller_keep_probabilities_give_larger_variance(rnn_draws):
    full, _, g05, g09 = rnn_draws
    var05 = float(g05.var(axis=0).sum() / (full @ full))
    var09 = float(g09.var(axis=0).sum() / (full @ full))
    print(f"ARTBP T = 20: total variance / ||g||^2 = {var05:.4f} at c = 0.5, {var09:.4f} at c = 0.9")
    assert var05 > var09 > 0


# ----------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def small():
    return sine_problem(variant("rnn-tanh"), T=6)


@pytest.mark.parametrize(
    "keep, err, match",
    [
        (0.0, ValueError, "keep"),
        (1.5, ValueError, "keep"),
        (-0.2, ValueError, "keep"),
        (float("nan"), ValueError, "keep"),
        (np.full(5, 0.5), ValueError, r"keep: expected an array of shape \(6,\)"),
        (np.full((6, 1), 0.5), ValueError, "keep"),
        (np.array([0.5, 0.5, 0.0, 0.5, 0.5, 0.5]), ValueError, r"keep: expected every entry in \(0, 1\]"),
        (np.array([0.5, 0.5, np.nan, 0.5, 0.5, 0.5]), ValueError, "keep"),
        (np.array(["a"] * 6), TypeError, "keep"),
        ("0.5", TypeError, "keep"),
        (True, TypeError, "keep"),
        ([0.5] * 6, TypeError, "keep"),
        (None, TypeError, "keep"),
    ],
)
def test_bad_keep_is_refused(small, keep, err, match):
    batch, model, params, state0 = small
    with pytest.raises(err, match=match):
        artbp_loss_and_grads(batch, state0, params, model, np.random.default_rng(0), keep)


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0), "seed"])
def test_bad_rng_is_refused(small, rng):
    batch, model, params, state0 = small
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator"):
        artbp_loss_and_grads(batch, state0, params, model, rng, 0.5)


def test_a_bad_rng_is_refused_even_with_cuts(small):
    batch, model, params, state0 = small
    with pytest.raises(TypeError, match="rng"):
        artbp_loss_and_grads(batch, state0, params, model, 7, 0.5, cuts=np.zeros(6, dtype=bool))


@pytest.mark.parametrize(
    "cuts, err, match",
    [
        (np.zeros(5, dtype=bool), ValueError, r"cuts: expected shape \(6,\)"),
        (np.zeros((6, 1), dtype=bool), ValueError, "cuts: expected shape"),
        (np.zeros(6), TypeError, "cuts: expected dtype bool"),
        (np.zeros(6, dtype=int), TypeError, "cuts: expected dtype bool"),
        ([False] * 6, TypeError, "cuts: expected a bool numpy.ndarray"),
        (np.array([True] + [False] * 5), ValueError, "cuts: entry 0"),
    ],
)
def test_bad_cuts_are_refused(small, cuts, err, match):
    batch, model, params, state0 = small
    with pytest.raises(err, match=match):
        artbp_loss_and_grads(batch, state0, params, model, None, 0.5, cuts=cuts)


def test_bad_model_batch_and_state_are_refused(small):
    batch, model, params, state0 = small
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="model"):
        artbp_loss_and_grads(batch, state0, params, "rnn", rng, 0.5)
    with pytest.raises((TypeError, ValueError), match="state0"):
        artbp_loss_and_grads(batch, state0[:, :2], params, model, rng, 0.5)
    with pytest.raises(ValueError, match="mask"):
        artbp_loss_and_grads(batch._replace(mask=np.zeros_like(batch.mask)), state0, params, model, rng, 0.5)
