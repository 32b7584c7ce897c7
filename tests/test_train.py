"""The NumPy training loop: it learns, logs one entry per step, reports divergence, clips, and counts TBPTT updates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import sine_batch

from bpttlab import tasks
from bpttlab.clip import global_norm
from bpttlab.init import init_readout, init_rnn
from bpttlab.numpy import seq
from bpttlab.numpy.train import evaluate, train
from bpttlab.optim import leaves


def make_model(D, H, O, seed, activation="tanh", loss="mse"):
    rng = np.random.default_rng(seed)
    return seq.SeqModel(activation=activation, loss=loss), seq.SeqParams(init_rnn(D, H, rng), init_readout(H, O, rng))


def adding(T, B):
    return lambda rng: tasks.adding_problem(T, B, rng)


def sine(T, B):
    """A per-step task: every chunk of every size has a loss."""
    return lambda rng: sine_batch(T, B, rng)


def flat(tree):
    return np.concatenate([np.ravel(a) for a in leaves(tree)])


# ----------------------------------------------------------------- it learns, deterministically


def test_training_beats_the_adding_baseline_at_T_10():
    model, params = make_model(2, 32, 1, seed=1)
    baseline = tasks.adding_baseline().loss
    test = tasks.adding_problem(10, 4000, np.random.default_rng(99))
    before, _ = evaluate(model, params, test)
    trained, log = train(model, params, adding(10, 32), 300, np.random.default_rng(11), lr=5e-3)
    after, accuracy = evaluate(model, trained, test)
    assert before > baseline  # an untrained model is no better than answering 1
    assert after < baseline / 4  # clearly better than the best constant answer
    assert accuracy > 2 * tasks.adding_baseline().accuracy
    assert log.loss[-20:].mean() < log.loss[:20].mean() / 3


def test_training_is_deterministic_with_a_seed():
    runs = []
    for _ in range(2):
        model, params = make_model(2, 8, 1, seed=4)
        runs.append(train(model, params, adding(12, 8), 15, np.random.default_rng(5), lr=1e-2, k1=4, k2=6))
    (p1, log1), (p2, log2) = runs
    for a, b in zip(log1, log2):
        assert np.array_equal(a, b)
    assert np.array_equal(flat(p1), flat(p2))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_log_has_one_loss_per_training_step(optimizer):
    model, params = make_model(2, 6, 1, seed=0)
    steps = 7
    _, log = train(model, params, adding(10, 4), steps, np.random.default_rng(0), optimizer=optimizer, lr=1e-2)
    assert log.loss.shape == (steps,)
    assert log.update_loss.shape == log.grad_norm.shape == log.clipped.shape == (steps,)  # full BPTT: one update each
    np.testing.assert_array_equal(log.loss, log.update_loss)
    assert log.clipped.dtype == bool and not log.clipped.any()
    assert np.all(np.isfinite(log.loss)) and np.all(log.grad_norm > 0)


def test_first_update_is_one_sgd_step_on_the_bptt_gradient():
    """One batch, full BPTT, SGD: the new parameters are params - lr * loss_and_grads(...).grads."""
    model, params = make_model(2, 5, 1, seed=3)
    batch = tasks.adding_problem(10, 4, np.random.default_rng(8))
    lr = 0.05
    trained, log = train(model, params, lambda rng: batch, 1, np.random.default_rng(0), optimizer="sgd", lr=lr)
    r = seq.loss_and_grads(batch, np.zeros((4, 5)), params, model)
    np.testing.assert_allclose(flat(trained), flat(params) - lr * flat(r.grads), rtol=1e-14, atol=1e-16)
    assert log.loss[0] == pytest.approx(r.loss, rel=1e-14)
    assert log.grad_norm[0] == pytest.approx(global_norm(r.grads), rel=1e-14)


# ----------------------------------------------------------------- divergence is reported with its step


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_a_huge_learning_rate_raises_naming_the_training_step(activation):
    model, params = make_model(2, 8, 1, seed=0, activation=activation)
    quiet = np.errstate(over="ignore", invalid="ignore")  # numpy warns on the overflow itself
    with quiet, pytest.raises(FloatingPointError, match=r"training step \d+") as info:
        train(model, params, adding(10, 16), 50, np.random.default_rng(1), optimizer="sgd", lr=1e3)
    step = int(str(info.value).split("training step ")[1].split()[0])
    assert step >= 1  # the first update is computed from finite parameters
    # the step named is the first that fails: training for exactly that many steps still works
    with np.errstate(over="ignore", invalid="ignore"):
        _, log = train(model, params, adding(10, 16), step, np.random.default_rng(1), optimizer="sgd", lr=1e3)
    assert log.loss.shape == (step,) and np.all(np.isfinite(log.loss))


def test_clipping_prevents_that_divergence():
    model, params = make_model(2, 8, 1, seed=0, activation="relu")
    _, log = train(model, params, adding(10, 16), 5, np.random.default_rng(1), optimizer="sgd", lr=1e-1, max_norm=1.0)
    assert np.all(np.isfinite(log.loss))


# ----------------------------------------------------------------- clipping inside the loop


def test_every_norm_above_max_norm_is_flagged_clipped():
    model, params = make_model(2, 8, 1, seed=0)
    max_norm = 0.8
    _, log = train(model, params, adding(10, 16), 60, np.random.default_rng(1), lr=1e-2, max_norm=max_norm)
    np.testing.assert_array_equal(log.clipped, log.grad_norm > max_norm)
    assert log.clipped.any() and not log.clipped.all()  # the threshold splits this run


def test_the_update_uses_the_clipped_gradient():
    model, params = make_model(2, 6, 1, seed=2)
    batch = tasks.adding_problem(10, 8, np.random.default_rng(3))
    norm = global_norm(seq.loss_and_grads(batch, np.zeros((8, 6)), params, model).grads)
    lr, max_norm = 0.1, norm / 4
    trained, log = train(
        model, params, lambda rng: batch, 1, np.random.default_rng(0), optimizer="sgd", lr=lr, max_norm=max_norm
    )
    assert log.clipped[0] and log.grad_norm[0] == pytest.approx(norm, rel=1e-14)
    assert np.linalg.norm(flat(trained) - flat(params)) == pytest.approx(lr * max_norm, rel=1e-12)


def test_clip_value_flags_and_bounds():
    model, params = make_model(2, 6, 1, seed=2)
    batch = tasks.adding_problem(10, 8, np.random.default_rng(3))
    lr, c = 0.1, 1e-3
    trained, log = train(
        model, params, lambda rng: batch, 1, np.random.default_rng(0), optimizer="sgd", lr=lr, clip_value=c
    )
    assert log.clipped[0]
    assert np.max(np.abs(flat(trained) - flat(params))) <= lr * c * (1 + 1e-12)


def test_both_clipping_rules_at_once_are_rejected():
    model, params = make_model(2, 4, 1, seed=0)
    with pytest.raises(ValueError, match="max_norm, clip_value"):
        train(model, params, adding(10, 2), 1, np.random.default_rng(0), max_norm=1.0, clip_value=1.0)


# ----------------------------------------------------------------- truncated training


@pytest.mark.parametrize(
    "k1, k2", [(1, 1), (3, 3), (3, 5), (4, 4), (5, 8), (12, 12), (13, None), (None, None), (20, None)]
)
def test_truncated_training_makes_ceil_T_over_k1_updates_per_batch(k1, k2):
    T, steps = 13, 3
    model, params = make_model(1, 4, 1, seed=0)
    _, log = train(model, params, sine(T, 4), steps, np.random.default_rng(0), lr=1e-3, k1=k1, k2=k2)
    per_batch = math.ceil(T / min(k1 or T, T))
    assert len(log.update_loss) == len(log.grad_norm) == len(log.clipped) == steps * per_batch
    assert log.loss.shape == (steps,)
    np.testing.assert_allclose(log.loss, log.update_loss.reshape(steps, per_batch).sum(axis=1), rtol=1e-14)


def test_chunks_without_a_loss_make_no_update():
    """The adding problem has its loss on the last step only: one update per batch whatever k1."""
    model, params = make_model(2, 4, 1, seed=0)
    _, log = train(model, params, adding(12, 4), 4, np.random.default_rng(0), lr=1e-3, k1=5)
    assert len(log.update_loss) == 4


def test_truncated_training_updates_after_each_chunk_with_the_state_carried_over():
    """Two chunks of one batch by hand: update on chunk 1, then chunk 2 from the carried state, history cut."""
    T, k, lr = 8, 4, 0.1
    model, params = make_model(1, 3, 1, seed=6)
    batch = sine_batch(T, 2, np.random.default_rng(2))
    trained, log = train(model, params, lambda rng: batch, 1, np.random.default_rng(0), optimizer="sgd", lr=lr, k1=k)
    N = float(batch.mask.sum())
    h0 = np.zeros((2, 3))
    v1, g1, cache1 = seq.window_loss_and_grads(batch, h0, params, model, 0, 0, k, N)
    p1 = type(params)(*(type(c)(*(a - lr * g for a, g in zip(c, gc))) for c, gc in zip(params, g1)))
    carried = cache1.hs[-1]  # the state after chunk 1, computed with the parameters of chunk 1
    v2, g2, _ = seq.window_loss_and_grads(batch, carried, p1, model, k, k, T, N)
    p2 = type(params)(*(type(c)(*(a - lr * g for a, g in zip(c, gc))) for c, gc in zip(p1, g2)))
    np.testing.assert_allclose(flat(trained), flat(p2), rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(log.update_loss, [v1, v2], rtol=1e-14)


# ----------------------------------------------------------------- evaluate


@pytest.mark.parametrize("task", ["adding", "copy", "temporal"])
def test_evaluate_returns_the_masked_loss(task):
    rng = np.random.default_rng(21)
    batch = {
        "adding": lambda: tasks.adding_problem(12, 5, rng),
        "copy": lambda: tasks.copy_task(4, 5, rng, length=3, n_symbols=4),
        "temporal": lambda: tasks.temporal_order(12, 5, rng),
    }[task]()
    O = {"adding": 1, "copy": 6, "temporal": 4}[task]
    model, params = make_model(batch.x.shape[-1], 7, O, seed=9, loss=batch.loss)
    value, accuracy = evaluate(model, params, batch)
    ys, _ = seq.forward(batch.x, np.zeros((5, 7)), params, model)
    expected, _ = seq.masked_loss(ys, batch.y, batch.mask, batch.loss)
    assert value == expected
    assert value == pytest.approx(seq.loss_and_grads(batch, np.zeros((5, 7)), params, model).loss, rel=1e-14)
    assert accuracy == seq.accuracy(ys, batch)


# ----------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"rng": 0}, TypeError, "rng"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"k1": 4, "k2": 2}, ValueError, "k2"),
        ({"k1": 0}, ValueError, "k1"),
        ({"max_norm": -1.0}, ValueError, "max_norm"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"make_batch": lambda rng: (1, 2)}, TypeError, "make_batch"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, error, name):
    model, params = make_model(2, 4, 1, seed=0)
    args = {"make_batch": adding(10, 2), "steps": 2, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(error, match=rf"^{name}:"):
        train(model, params, args.pop("make_batch"), args.pop("steps"), args.pop("rng"), **args)
