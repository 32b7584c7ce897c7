"""The torch training loop: it learns; each update's gradient is exactly the full or truncated BPTT
gradient computed by hand with autograd; state carried across batches; clipping; divergence; evaluate;
progress bars only on request."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from support import one_torch_thread  # noqa: F401 (a fixture)

from bpttlab.clip import clip_by_global_norm
from bpttlab.numpy import seq as npseq
from bpttlab.tasks import TaskBatch
from bpttlab.torch.models import (
    CNNRNNClassifier,
    PerFrameClassifier,
    PooledFrameClassifier,
    SequenceRegressor,
    detach_state,
)
from bpttlab.torch.seq import masked_loss
from bpttlab.torch.train import clip_grad_norm, evaluate, show_progress, to_tensors, train
from bpttlab.video import action_task, motion_clips

# every test builds torch models: one thread, restored afterwards
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def regressor(cell: str = "lstm", D: int = 2, H: int = 4, O: int = 1, dtype=torch.float64, seed: int = 0):
    torch.manual_seed(seed)
    return SequenceRegressor(D, H, O, cell=cell).to(dtype)


def random_task(T: int, B: int = 3, D: int = 2, O: int = 1, mask_every: int | None = None):
    """make_batch(rng) of a regression task with random targets; with ``mask_every`` a random 0/1 mask
    that still has a loss on every ``mask_every``-th step (so every chunk of that length has one)."""

    def make_batch(rng):
        x = rng.standard_normal((T, B, D))
        y = rng.standard_normal((T, B, O))
        mask = np.ones((T, B))
        if mask_every is not None:
            mask = (rng.uniform(size=(T, B)) < 0.5).astype(np.float64)
            mask[::mask_every] = 1.0
        return TaskBatch(x, y, mask, "mse")

    return make_batch


class GradRecorder:
    """The gradient of every parameter at every update, recorded as autograd accumulates it (before clipping)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.params = list(model.parameters())
        self.updates: list[list[torch.Tensor]] = []
        self._now: dict[int, torch.Tensor] = {}
        for i, p in enumerate(self.params):
            p.register_post_accumulate_grad_hook(self._hook(i))

    def _hook(self, i):
        def hook(p):
            self._now[i] = p.grad.detach().clone()
            if len(self._now) == len(self.params):
                self.updates.append([self._now[j] for j in range(len(self.params))])
                self._now = {}

        return hook


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def assert_same_grads(got, want, tol=1e-12):
    for g, w in zip(got, want, strict=True):
        g, w = g.detach(), w.detach()
        torch.testing.assert_close(g, w, rtol=tol, atol=tol * max(1.0, float(w.abs().max())))


def sgd_(model, grads, lr):
    """The update torch.optim.SGD makes (no momentum): p <- p - lr g."""
    with torch.no_grad():
        for p, g in zip(model.parameters(), grads, strict=True):
            p.add_(g, alpha=-lr)


# ----------------------------------------------------------------- it learns


def test_the_loss_decreases_on_a_small_regression_task():
    """Echo the previous input: y_t = x_{t-1}. A GRU learns it within 80 Adam steps."""

    def make_batch(rng):
        x = rng.standard_normal((12, 16, 1)).astype(np.float32)
        y = np.concatenate([np.zeros((1, 16, 1), np.float32), x[:-1]])
        return TaskBatch(x, y, np.ones((12, 16), np.float32), "mse")

    model = regressor("gru", D=1, H=8, dtype=torch.float32)
    test = make_batch(np.random.default_rng(99))
    before, _ = evaluate(model, test)
    log = train(model, make_batch, 80, np.random.default_rng(0), lr=2e-2)
    after, acc = evaluate(model, test, tolerance=0.25)
    assert log.loss.shape == (80,) and np.all(np.isfinite(log.loss))
    assert log.loss[-10:].mean() < 0.3 * log.loss[:10].mean()
    assert after < 0.3 * before
    assert acc > 0.5
    assert not model.training  # left in evaluation mode


def test_training_is_deterministic_with_seeds():
    logs = []
    for _ in range(2):
        model = regressor("gru")
        logs.append(train(model, random_task(8), 5, np.random.default_rng(2), lr=1e-2, k1=3, k2=3))
    for a, b in zip(*logs):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- updates per batch


@pytest.mark.parametrize("k, updates", [(None, 1), (10, 1), (25, 1), (5, 2), (3, 4), (1, 10)])
def test_one_update_per_chunk_of_k_steps(k, updates):
    steps = 3
    log = train(regressor("rnn"), random_task(10), steps, np.random.default_rng(0), k1=k, k2=k)
    assert updates == (1 if k is None else math.ceil(10 / k))
    assert len(log.update_loss) == len(log.grad_norm) == len(log.clipped) == steps * updates
    assert log.loss.shape == (steps,)
    # the loss of a training step is the sum of its chunks' losses (one normaliser for the whole batch)
    np.testing.assert_allclose(log.update_loss.reshape(steps, updates).sum(axis=1), log.loss, rtol=1e-12)


def test_chunks_without_a_loss_make_no_update_but_carry_the_state():
    """A loss at the last step only: with k = 3 and T = 10 only the last chunk updates, and since nothing
    changed the parameters before it, its loss is the full run's loss at the initial parameters."""
    model = regressor("gru")
    reference = copy.deepcopy(model)

    def make_batch(rng):
        batch = random_task(10)(rng)
        mask = np.zeros((10, 3))
        mask[-1] = 1.0
        return batch._replace(mask=mask)

    log = train(model, make_batch, 1, np.random.default_rng(4), k1=3, k2=3)
    assert len(log.update_loss) == 1
    b = to_tensors(make_batch(np.random.default_rng(4)), torch.float64)
    with torch.no_grad():
        ys, _ = reference(b.x)
    assert log.update_loss[0] == pytest.approx(float(masked_loss(ys, b.y, b.mask, "mse")), rel=1e-12)


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: PerFrameClassifier(size=8, features=6),
        lambda: PooledFrameClassifier(size=8, features=6, hidden=5),
        lambda: CNNRNNClassifier(size=8, features=6, H=5),
    ],
    ids=["per-frame", "pooled", "cnn-rnn"],
)
def test_video_classifiers_judge_the_whole_clip_under_truncation(make_model):
    """Action clips are judged at their last frame; trained in chunks of 2 frames the loss of that update
    is still the loss of the whole clip (the state carries the running average or the recurrent state)."""
    torch.manual_seed(0)
    model = make_model().double()
    reference = copy.deepcopy(model)

    def make_batch(rng):
        return action_task(*motion_clips(7, 4, rng, size=8, dtype=np.float64))

    log = train(model, make_batch, 1, np.random.default_rng(1), k1=2, k2=2)
    assert len(log.update_loss) == 1
    loss, _ = evaluate(reference, make_batch(np.random.default_rng(1)))
    assert log.update_loss[0] == pytest.approx(loss, rel=1e-12)


# ----------------------------------------------------------------- gradients: full and truncated BPTT


@pytest.mark.parametrize("k", [None, 8, 20])
def test_with_k_at_least_T_the_update_is_the_full_bptt_gradient(k):
    make_batch = random_task(8, mask_every=3)
    model = regressor("lstm")
    reference = copy.deepcopy(model)
    recorder = GradRecorder(model)
    log = train(model, make_batch, 1, np.random.default_rng(7), optimizer="sgd", lr=0.1, k1=k, k2=k)
    assert len(recorder.updates) == 1
    b = to_tensors(make_batch(np.random.default_rng(7)), torch.float64)
    ys, _ = reference(b.x)
    full = masked_loss(ys, b.y, b.mask, "mse")
    grads = torch.autograd.grad(full, list(reference.parameters()))
    assert_same_grads(recorder.updates[0], grads)
    assert log.update_loss[0] == pytest.approx(float(full.detach()), rel=1e-12)
    assert log.grad_norm[0] == pytest.approx(float(flat(grads).norm()), rel=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_with_truncation_every_update_is_the_detached_chunk_gradient(cell):
    """TBPTT(3, 3) over T = 8 by hand: chunks of losses [0, 3), [3, 6), [6, 8); each update differentiates
    its chunk's share of the loss (normalised by the whole batch's mask) back k2 = 3 steps, to a state
    whose history is cut: h_0 = 0, h_3, and h_5 for the last, short chunk (its window starts at
    8 - k2 = 5, with the state the previous chunk's forward pass reached, before that chunk's update).
    Two batches, SGD."""
    T, k, lr = 8, 3, 0.1
    make_batch = random_task(T, mask_every=k)
    model = regressor(cell)
    reference = copy.deepcopy(model)
    recorder = GradRecorder(model)
    log = train(model, make_batch, 2, np.random.default_rng(5), optimizer="sgd", lr=lr, k1=k, k2=k)
    rng = np.random.default_rng(5)
    j = 0

    def update(ys, first, start, stop, b, N):
        nonlocal j
        loss = masked_loss(ys[first - start :], b.y[first:stop], b.mask[first:stop], "mse", N)
        grads = torch.autograd.grad(loss, list(reference.parameters()))
        assert_same_grads(recorder.updates[j], grads)
        assert log.update_loss[j] == pytest.approx(float(loss.detach()), rel=1e-12)
        sgd_(reference, grads, lr)
        j += 1

    for _ in range(2):
        b = to_tensors(make_batch(rng), torch.float64)
        N = float(b.mask.sum())
        ys, h3 = reference(b.x[0:3], None)  # carry_state=False: every batch starts afresh
        update(ys, 0, 0, 3, b, N)
        ys_a, h5 = reference(b.x[3:5], detach_state(h3))
        ys_b, _ = reference(b.x[5:6], h5)
        update(torch.cat([ys_a, ys_b]), 3, 3, 6, b, N)
        ys, _ = reference(b.x[5:8], detach_state(h5))
        update(ys, 6, 5, 8, b, N)
    assert j == len(recorder.updates) == 6
    assert_same_grads(list(model.parameters()), list(reference.parameters()))


def test_truncation_changes_the_gradient():
    """The summed chunk gradients at fixed parameters differ from full BPTT's: what the tests above tell apart."""
    b = to_tensors(random_task(8)(np.random.default_rng(3)), torch.float64)
    model = regressor("rnn")
    params = list(model.parameters())
    ys, _ = model(b.x)
    full = flat(torch.autograd.grad(masked_loss(ys, b.y, b.mask, "mse"), params))
    truncated, state, N = torch.zeros_like(full), None, float(b.mask.sum())
    for s in range(0, 8, 3):
        ys, state = model(b.x[s : s + 3], state)
        truncated += flat(torch.autograd.grad(masked_loss(ys, b.y[s : s + 3], b.mask[s : s + 3], "mse", N), params))
        state = detach_state(state)
    assert (truncated - full).norm() > 1e-3 * full.norm()


# ----------------------------------------------------------------- state across batches


def stream(T: int, B: int = 2, D: int = 2, n_batches: int = 3):
    """make_batch returning consecutive chunks of one long sequence per batch row."""
    g = np.random.default_rng(11)
    x = g.standard_normal((n_batches * T, B, D))
    y = np.cumsum(x[..., :1], axis=0) / 4.0  # depends on the whole past: the carried state helps
    calls = iter(range(n_batches))

    def make_batch(rng):
        i = next(calls)
        return TaskBatch(x[i * T : (i + 1) * T], y[i * T : (i + 1) * T], np.ones((T, B)), "mse")

    return make_batch


def test_carry_state_starts_each_batch_from_the_last_state():
    lr = 0.05
    carried = train(regressor("gru"), stream(5), 3, np.random.default_rng(0), optimizer="sgd", lr=lr, carry_state=True)
    fresh = train(regressor("gru"), stream(5), 3, np.random.default_rng(0), optimizer="sgd", lr=lr)
    assert carried.loss[0] == fresh.loss[0]  # the first batch starts from the zero state either way
    assert np.all(np.abs(carried.loss[1:] - fresh.loss[1:]) > 1e-6)
    # by hand: the state after batch i (detached) starts batch i + 1
    reference, make_batch, state = regressor("gru"), stream(5), None
    for i in range(3):
        b = to_tensors(make_batch(None), torch.float64)
        ys, state = reference(b.x, state)
        loss = masked_loss(ys, b.y, b.mask, "mse")
        sgd_(reference, torch.autograd.grad(loss, list(reference.parameters())), lr)
        state = detach_state(state)
        assert carried.loss[i] == pytest.approx(float(loss.detach()), rel=1e-12)


# ----------------------------------------------------------------- clipping


def test_clipping_by_norm_bounds_the_step_and_keeps_its_direction():
    lr, max_norm = 0.5, 1e-3
    model = regressor("lstm")
    before = flat(model.parameters()).clone()
    recorder = GradRecorder(model)
    log = train(model, random_task(6), 1, np.random.default_rng(0), optimizer="sgd", lr=lr, max_norm=max_norm)
    assert log.clipped.tolist() == [True] and log.grad_norm[0] > 100 * max_norm
    change = flat(model.parameters()) - before
    g = flat(recorder.updates[0])
    # the NumPy formula g * max_norm / ||g|| (not torch's ||g|| + 1e-6): the step is lr * max_norm to rounding
    assert float(change.norm()) == pytest.approx(lr * max_norm, rel=1e-12)
    cosine = float(change @ g / (change.norm() * g.norm()))
    assert cosine == pytest.approx(-1.0, abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torch_clips_with_the_numpy_formula(cell, dtype):
    """One training step with max_norm: the gradient the optimiser used is bpttlab.clip.clip_by_global_norm
    of the same raw gradient, to at most 1 ulp, and the logged norm is its global_norm."""
    max_norm = 1e-3
    model = regressor(cell, dtype=dtype)
    recorder = GradRecorder(model)
    log = train(model, random_task(6), 1, np.random.default_rng(0), optimizer="sgd", lr=0.1, max_norm=max_norm)
    raw = tuple(g.numpy() for g in recorder.updates[0])  # before clipping
    used = [p.grad.numpy() for p in model.parameters()]  # after clipping: what opt.step() read
    expected, norm = clip_by_global_norm(raw, max_norm)
    assert log.clipped.tolist() == [True] and norm > max_norm
    assert log.grad_norm[0] == pytest.approx(norm, rel=1e-12)  # both sum the squares in float64
    for a, b in zip(used, expected):
        assert a.dtype == b.dtype == raw[0].dtype
        np.testing.assert_array_max_ulp(a, b, maxulp=1)


def test_clip_grad_norm_is_clip_by_global_norm_on_tensors():
    """clip_grad_norm on .grad tensors and clip_by_global_norm on their NumPy copies agree to 1 ulp; below the
    threshold nothing changes; a non-finite gradient is named."""
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        grads = [(rng.standard_normal(shape) * 10).astype(dtype) for shape in ((3, 4), (4,), (2, 2, 2))]
        params = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        norm = clip_grad_norm(params, 1.0)
        expected, np_norm = clip_by_global_norm(tuple(grads), 1.0)
        assert norm == pytest.approx(np_norm, rel=1e-12)
        for p, e in zip(params, expected):
            np.testing.assert_array_max_ulp(p.grad.numpy(), e, maxulp=1)
        before = [p.grad.clone() for p in params]
        assert clip_grad_norm(params, 10.0 * norm) == pytest.approx(1.0, rel=1e-6)
        assert all(torch.equal(p.grad, b) for p, b in zip(params, before))
    params[1].grad[0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"^params\[1\]\.grad: non-finite gradient"):
        clip_grad_norm(params, 1.0)
    with pytest.raises(ValueError, match=r"^max_norm: expected a positive number, got 0\.0"):
        clip_grad_norm(params, 0.0)
    with pytest.raises(TypeError, match=r"^params: expected a list of tensors"):
        clip_grad_norm(params[0], 1.0)
    with pytest.raises(TypeError, match=r"^params\[0\]: expected a torch\.Tensor, got ndarray"):
        clip_grad_norm([np.zeros(2)], 1.0)


def test_no_clipping_below_the_threshold():
    lr = 0.5
    model = regressor("lstm")
    before = flat(model.parameters()).clone()
    recorder = GradRecorder(model)
    log = train(model, random_task(6), 1, np.random.default_rng(0), optimizer="sgd", lr=lr, max_norm=1e6)
    assert log.clipped.tolist() == [False]
    change = flat(model.parameters()) - before
    torch.testing.assert_close(change, -lr * flat(recorder.updates[0]), rtol=1e-12, atol=1e-15)


def test_clipping_by_value_bounds_every_component_and_is_logged():
    lr, clip_value = 0.5, 1e-4
    model = regressor("gru")
    before = flat(model.parameters()).clone()
    log = train(model, random_task(6), 1, np.random.default_rng(0), optimizer="sgd", lr=lr, clip_value=clip_value)
    assert log.clipped.tolist() == [True]
    assert (flat(model.parameters()) - before).abs().max() <= lr * clip_value * (1 + 1e-12)
    log = train(regressor("gru"), random_task(6), 2, np.random.default_rng(0), optimizer="sgd", clip_value=1e6)
    assert log.clipped.tolist() == [False, False]


# ----------------------------------------------------------------- failures


def test_divergence_is_reported_with_its_training_step():
    """SGD with a huge learning rate: the loss overflows a few steps in."""

    def make_batch(rng):
        x = rng.standard_normal((10, 8, 1)).astype(np.float32)
        return TaskBatch(x, 10 * x, np.ones((10, 8), np.float32), "mse")

    model = regressor("rnn", D=1, H=8, dtype=torch.float32)
    message = r"non-finite at training step [1-9]\d* \(chunk starting at time step 0\)"
    with pytest.raises(FloatingPointError, match=message):
        train(model, make_batch, 50, np.random.default_rng(0), optimizer="sgd", lr=1e8)


def test_a_non_finite_input_names_the_training_step_and_chunk():
    calls = []

    def make_batch(rng):
        batch = random_task(9)(rng)
        calls.append(1)
        if len(calls) == 3:
            batch.x[7, 0, 0] = np.nan
        return batch

    message = r"^make_batch\(rng\)\.x: non-finite value \(NaN or inf\) at time step 7 \(the batch of training step 2\)"
    with pytest.raises(FloatingPointError, match=message):
        train(regressor("rnn"), make_batch, 5, np.random.default_rng(0), k1=3, k2=3)


def test_an_all_zero_mask_is_refused():
    def make_batch(rng):
        return random_task(5)(rng)._replace(mask=np.zeros((5, 3)))

    message = r"^make_batch: batch of training step 0 has no step with a loss \(mask all zero\)"
    with pytest.raises(ValueError, match=message):
        train(regressor("rnn"), make_batch, 2, np.random.default_rng(0))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(model=lambda x, s: (x, s)), TypeError, r"^model: expected a torch.nn.Module"),
        (dict(model=torch.nn.ReLU()), ValueError, r"^model: expected a torch.nn.Module with parameters"),
        (dict(make_batch=lambda rng: (1, 2, 3, "mse")), TypeError, r"^make_batch: expected it to return a TaskBatch"),
        (dict(steps=0), ValueError, r"^steps: expected a positive int"),
        (dict(steps=1.5), TypeError, r"^steps: expected a positive int"),
        (dict(rng=np.random.RandomState(0)), TypeError, r"^rng: expected a numpy.random.Generator"),
        (dict(optimizer="rmsprop"), ValueError, r"^optimizer: expected one of \['adam', 'sgd'\]"),
        (dict(k1=0), ValueError, r"^k1: expected a positive int"),
        (dict(lr=-1e-3), ValueError, r"^lr: expected a positive number, got -0.001"),
        (dict(lr=float("inf")), ValueError, r"^lr: expected a finite number, got inf"),
        (dict(lr="0.1"), TypeError, r"^lr: expected a real number, got str"),
        (dict(max_norm=0.0), ValueError, r"^max_norm: expected a positive number, got 0.0"),
        (dict(clip_value=float("nan")), ValueError, r"^clip_value: expected a finite number, got nan"),
        (dict(carry_state="yes"), TypeError, r"^carry_state: expected True or False, got str"),
        (dict(progress=1), TypeError, r"^progress: expected True or False, got int"),
        (dict(make_batch=None), TypeError, r"^make_batch: expected a function rng -> TaskBatch, got NoneType"),
        (dict(max_norm=1.0, clip_value=1.0), ValueError, r"^max_norm, clip_value: expected at most one clipping rule"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, pattern):
    args = dict(model=regressor("rnn"), make_batch=random_task(4), steps=2, rng=np.random.default_rng(0))
    args |= kwargs
    model, make_batch, steps, rng = (args.pop(n) for n in ("model", "make_batch", "steps", "rng"))
    with pytest.raises(error, match=pattern):
        train(model, make_batch, steps, rng, **args)


def test_to_tensors_refuses_other_batches():
    with pytest.raises(TypeError, match=r"^batch: expected a bpttlab.tasks.TaskBatch, got tuple"):
        to_tensors((1, 2, 3, "mse"), torch.float64)


# ----------------------------------------------------------------- evaluate


def test_evaluate_is_the_masked_loss_and_accuracy_of_a_fresh_run_classification():
    torch.manual_seed(0)
    model = CNNRNNClassifier(size=8, features=6, H=5).double()
    batch = action_task(*motion_clips(6, 40, np.random.default_rng(3), size=8))
    loss, acc = evaluate(model, batch)
    with torch.no_grad():
        ys, _ = model(torch.as_tensor(batch.x).double())
    t = to_tensors(batch, torch.float64)
    assert loss == pytest.approx(float(masked_loss(ys, t.y, t.mask, "xent")), rel=1e-12)
    assert acc == npseq.accuracy(ys.numpy(), batch)
    # the accuracy is judged at the masked (last) step only
    assert acc == pytest.approx(float((ys[-1].argmax(-1).numpy() == batch.y[-1]).mean()))


def test_evaluate_regression_with_a_tolerance():
    model = regressor("gru")
    batch = random_task(7, B=50, mask_every=2)(np.random.default_rng(6))
    for tolerance in (0.5, 1.0):
        loss, acc = evaluate(model, batch, tolerance=tolerance)
        with torch.no_grad():
            ys, _ = model(torch.as_tensor(batch.x))
        expected, _ = npseq.masked_loss(ys.numpy(), batch.y, batch.mask, "mse")
        assert loss == pytest.approx(expected, rel=1e-12)
        assert acc == npseq.accuracy(ys.numpy(), batch, tolerance)
        close = (np.abs(ys.numpy() - batch.y) < tolerance).all(-1)
        assert acc == pytest.approx(close[batch.mask > 0].mean())
        assert 0 < acc < 1  # a tolerance that decides something


# ----------------------------------------------------------------- progress bars


def test_no_progress_bar_by_default(capsys, monkeypatch):
    monkeypatch.delenv("BPTTLAB_PROGRESS", raising=False)
    train(regressor("rnn"), random_task(4), 3, np.random.default_rng(0))
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_when_asked(capsys, monkeypatch):
    monkeypatch.setenv("BPTTLAB_PROGRESS", "1")
    train(regressor("rnn"), random_task(4), 3, np.random.default_rng(0))
    assert "training" in capsys.readouterr().err
    train(regressor("rnn"), random_task(4), 3, np.random.default_rng(0), progress=False)
    assert capsys.readouterr().err == ""  # an explicit False wins over the environment


def test_show_progress_reads_the_environment(monkeypatch):
    monkeypatch.delenv("BPTTLAB_PROGRESS", raising=False)
    assert show_progress(None) is False and show_progress(True) is True
    monkeypatch.setenv("BPTTLAB_PROGRESS", "1")
    assert show_progress(None) is True and show_progress(False) is False
    monkeypatch.setenv("BPTTLAB_PROGRESS", "0")
    assert show_progress(None) is False
