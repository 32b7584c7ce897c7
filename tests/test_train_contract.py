"""One training-loop contract for both backends (bpttlab.training): the same arguments and defaults,
the same results from the same weights, learning-rate schedules, checkpoints resumed bit-identically
(with truncation and carried state, after an exception or a SIGKILL at any moment), clear errors for
checkpoints of another run, and stops on non-finite values that name the step, the tensor and the
last finite values."""

from __future__ import annotations

import inspect
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from support import one_torch_thread  # noqa: F401 (a fixture)

from bpttlab import training
from bpttlab.numpy import seq
from bpttlab.numpy import train as nptrain
from bpttlab.optim import piecewise_lr
from bpttlab.saving import leftover_temp_files
from bpttlab.seqmodel import SeqModel
from bpttlab.tasks import TaskBatch
from bpttlab.torch import nnmap
from bpttlab.torch import train as ttrain
from bpttlab.torch.models import SequenceRegressor

ROOT = pathlib.Path(__file__).resolve().parents[1]


# every test builds torch models: one thread, restored afterwards
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_batches(T: int = 7, B: int = 3, D: int = 2, O: int = 1):
    """make_batch(rng): a regression batch with a loss on every step (so every chunk updates)."""

    def make_batch(rng):
        x = rng.standard_normal((T, B, D))
        y = np.tanh(np.cumsum(x[..., :O], axis=0) / 3.0)
        return TaskBatch(x, y, np.ones((T, B)), "mse")

    return make_batch


class Interrupt(Exception):
    pass


def interrupting(make_batch, calls: int):
    """make_batch that raises Interrupt on its ``calls``-th call (a run stopped in the middle)."""
    count = 0

    def wrapped(rng):
        nonlocal count
        count += 1
        if count == calls:
            raise Interrupt
        return make_batch(rng)

    return wrapped


def np_setup(cell: str = "gru", H: int = 4, seed: int = 0):
    model = SeqModel(cell=cell)
    return model, seq.init_params(model, 2, H, 1, np.random.default_rng(seed))


def torch_model(seed: int = 0, dropout: float = 0.0) -> torch.nn.Module:
    """A SequenceRegressor, with dropout on its inputs when asked (so torch's generator matters)."""

    class Dropped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = SequenceRegressor(2, 4, 1, cell="lstm", generator=seed).double()
            self.drop = torch.nn.Dropout(dropout)

        def forward(self, x, state=None):
            return self.inner(self.drop(x), state)

    return Dropped()


def same_log(a, b):
    for name in a._fields:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


# ----------------------------------------------------------------- one signature


def test_both_loops_take_the_same_arguments_with_the_same_defaults():
    def keyword_only(fn):
        return {n: p.default for n, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY}

    numpy_kw, torch_kw = keyword_only(nptrain.train), keyword_only(ttrain.train)
    assert torch_kw.pop("device") == "cpu"  # the one argument only torch has
    assert numpy_kw == torch_kw == training.DEFAULTS
    positional = [n for n, p in inspect.signature(ttrain.train).parameters.items() if p.kind is not p.KEYWORD_ONLY]
    assert positional == ["model", "make_batch", "steps", "rng"]  # numpy adds params after model


@pytest.mark.parametrize("optimizer, tol", [("sgd", 1e-12), ("adam", 1e-9)])
def test_numpy_and_torch_loops_train_the_same_weights_alike(optimizer, tol):
    """The same GRU weights, batches and options (TBPTT(2, 4), carried state, clipping, a schedule) in both
    loops end with the same weights and the same log. GRU: both backends keep its two biases apart."""
    model, params = np_setup("gru")
    net = SequenceRegressor(2, 4, 1, cell="gru").double()
    net.core.load_state_dict(nnmap.to_nn(params.cell).double().state_dict())
    with torch.no_grad():
        net.readout.weight.copy_(torch.from_numpy(params.readout.W_hy))
        net.readout.bias.copy_(torch.from_numpy(params.readout.b_y))
    options = dict(optimizer=optimizer, lr=piecewise_lr([0.05, 0.01], [3]), k1=2, k2=4, carry_state=True, max_norm=0.1)
    trained, np_log = nptrain.train(model, params, random_batches(), 5, np.random.default_rng(1), **options)
    torch_log = ttrain.train(net, random_batches(), 5, np.random.default_rng(1), **options)
    got = nnmap.from_nn(net.core)
    for name in trained.cell._fields:
        np.testing.assert_allclose(getattr(got, name), getattr(trained.cell, name), rtol=tol, atol=tol)
    np.testing.assert_allclose(net.readout.weight.detach().numpy(), trained.readout.W_hy, rtol=tol, atol=tol)
    assert len(np_log.update_loss) == len(torch_log.update_loss) == 5 * 4  # four chunks of T = 7 per batch
    np.testing.assert_allclose(torch_log.update_loss, np_log.update_loss, rtol=1e-9)
    np.testing.assert_allclose(torch_log.grad_norm, np_log.grad_norm, rtol=1e-9)
    assert np.array_equal(torch_log.clipped, np_log.clipped) and np_log.clipped.any() and not np_log.clipped.all()


# ----------------------------------------------------------------- schedules


def test_a_schedule_with_sgd_equals_two_runs_at_its_rates():
    """SGD has no state: 2 steps at 0.1 then 2 at 0.01 is exactly the schedule piecewise_lr([0.1, 0.01], [2])."""
    model, params = np_setup("rnn")
    rng = np.random.default_rng(4)
    scheduled, log = nptrain.train(
        model, params, random_batches(), 4, rng, optimizer="sgd", lr=piecewise_lr([0.1, 0.01], [2])
    )
    rng2 = np.random.default_rng(4)
    half, first = nptrain.train(model, params, random_batches(), 2, rng2, optimizer="sgd", lr=0.1)
    by_hand, second = nptrain.train(model, half, random_batches(), 2, rng2, optimizer="sgd", lr=0.01)
    for a, b in zip(_leaves(scheduled), _leaves(by_hand)):
        assert np.array_equal(a, b)
    assert np.array_equal(log.loss, np.concatenate([first.loss, second.loss]))


def _leaves(tree):
    from bpttlab.tree import leaves

    return leaves(tree)


def test_the_torch_schedule_sets_each_steps_rate():
    seen = []

    def lr(step):
        seen.append(step)
        return 1e-2 / (1 + step)

    ttrain.train(torch_model(), random_batches(), 4, np.random.default_rng(0), lr=lr)
    assert sorted(set(seen)) == [0, 1, 2, 3]


# ----------------------------------------------------------------- resuming, bit for bit


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_numpy_run_interrupted_and_resumed_is_bit_identical(tmp_path, cell, optimizer):
    model, params = np_setup(cell)
    options = dict(
        optimizer=optimizer, lr=piecewise_lr([0.02, 0.005], [6]), k1=2, k2=3, carry_state=True, clip_value=0.5
    )
    steps = 10
    want, want_log = nptrain.train(model, params, random_batches(), steps, np.random.default_rng(7), **options)

    path = tmp_path / "run.npz"
    with pytest.raises(Interrupt):
        nptrain.train(
            model, params, interrupting(random_batches(), 8), steps, np.random.default_rng(7),
            checkpoint=path, checkpoint_every=3, **options,
        )  # fmt: skip
    assert path.exists()  # written after steps 3 and 6; the run stopped in step 8
    _, other = np_setup(cell, seed=99)  # a template only: the checkpoint's parameters win
    got, got_log = nptrain.train(
        model, other, random_batches(), steps, np.random.default_rng(12345), checkpoint=path, resume=True, **options
    )
    for a, b in zip(_leaves(got), _leaves(want)):
        assert np.array_equal(a, b)
    same_log(got_log, want_log)
    assert len(got_log.loss) == steps and len(got_log.update_loss) == steps * 4


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_torch_run_interrupted_and_resumed_is_bit_identical(tmp_path, optimizer):
    """With dropout, so that torch's generator state must be restored too."""
    options = dict(optimizer=optimizer, lr=piecewise_lr([0.02, 0.005], [6]), k1=2, k2=3, carry_state=True, max_norm=0.5)
    steps = 10
    torch.manual_seed(3)
    ref = torch_model(dropout=0.2)
    want_log = ttrain.train(ref, random_batches(), steps, np.random.default_rng(7), **options)

    torch.manual_seed(3)
    path = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        ttrain.train(
            torch_model(dropout=0.2), interrupting(random_batches(), 8), steps, np.random.default_rng(7),
            checkpoint=path, checkpoint_every=3, **options,
        )  # fmt: skip
    torch.manual_seed(1000)  # another generator state and other initial weights: the checkpoint restores both
    got = torch_model(seed=5, dropout=0.2)
    got_log = ttrain.train(
        got, random_batches(), steps, np.random.default_rng(0), checkpoint=path, resume=True, **options
    )
    for (name, a), (_, b) in zip(got.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), name
    same_log(got_log, want_log)


def test_dropout_makes_torchs_generator_part_of_the_training_state():
    """The control of the test above: the same weights and batches under two torch seeds train differently, so
    the bit-identical resume there depends on the checkpoint restoring torch's generator."""
    logs = []
    for seed in (3, 4):
        model = torch_model(dropout=0.2)  # weights from generator=0: the same for both
        torch.manual_seed(seed)
        logs.append(ttrain.train(model, random_batches(), 3, np.random.default_rng(7)))
    assert not np.array_equal(logs[0].loss, logs[1].loss)


def test_a_finished_checkpoint_resumes_to_the_same_result_and_can_be_extended(tmp_path):
    model, params = np_setup("rnn")
    path = tmp_path / "run.npz"
    first, log6 = nptrain.train(model, params, random_batches(), 6, np.random.default_rng(2), checkpoint=path)
    again, log_again = nptrain.train(
        model, params, random_batches(), 6, np.random.default_rng(2), checkpoint=path, resume=True
    )
    for a, b in zip(_leaves(first), _leaves(again)):
        assert np.array_equal(a, b)
    same_log(log6, log_again)
    # 6 more steps from the file equal 12 steps in one go (the same Adam state and generator)
    longer, log12 = nptrain.train(
        model, params, random_batches(), 12, np.random.default_rng(0), checkpoint=path, resume=True
    )
    straight, straight_log = nptrain.train(model, params, random_batches(), 12, np.random.default_rng(2))
    for a, b in zip(_leaves(longer), _leaves(straight)):
        assert np.array_equal(a, b)
    same_log(log12, straight_log)


def test_a_fresh_run_never_overwrites_a_checkpoint(tmp_path):
    model, params = np_setup("rnn")
    path = tmp_path / "run.npz"
    nptrain.train(model, params, random_batches(), 2, np.random.default_rng(2), checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"^checkpoint: .*run\.npz exists; pass resume=True to continue"):
        nptrain.train(model, params, random_batches(), 4, np.random.default_rng(2), checkpoint=path)
    with pytest.raises(FileExistsError, match=r"^checkpoint: .*run\.pt exists"):
        (tmp_path / "run.pt").write_bytes(b"")
        ttrain.train(torch_model(), random_batches(), 2, np.random.default_rng(0), checkpoint=tmp_path / "run.pt")
    assert path.read_bytes() == before


def test_resume_without_a_file_starts_afresh(tmp_path):
    model, params = np_setup("rnn")
    path = tmp_path / "new.npz"
    a, _ = nptrain.train(model, params, random_batches(), 3, np.random.default_rng(2), checkpoint=path, resume=True)
    b, _ = nptrain.train(model, params, random_batches(), 3, np.random.default_rng(2))
    assert all(np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(b)))
    assert path.exists()


CHILD = """
import sys, numpy as np
from bpttlab.numpy import seq, train
from bpttlab.seqmodel import SeqModel
from bpttlab.tasks import TaskBatch

def make_batch(rng):
    x = rng.standard_normal((7, 3, 2))
    return TaskBatch(x, np.tanh(np.cumsum(x[..., :1], axis=0) / 3.0), np.ones((7, 3)), "mse")

model = SeqModel(cell="lstm")
params = seq.init_params(model, 2, 32, 1, np.random.default_rng(0))
print("started", flush=True)
train.train(model, params, make_batch, {steps}, np.random.default_rng(7), k1=2, k2=3, carry_state=True,
            checkpoint=sys.argv[1], checkpoint_every=1, resume=True)
"""


def test_numpy_run_killed_at_any_moment_resumes_bit_identical(tmp_path):
    """A child trains with a checkpoint after every step; SIGKILL lands wherever it lands (several times, some
    kills inside a save), each restart resumes; the end equals an uninterrupted run."""
    steps = 400
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(steps=steps)))
    path = tmp_path / "run.npz"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    kills = 0
    for delay in (0.3, 0.45, 0.6):
        child = subprocess.Popen([sys.executable, str(script), str(path)], env=env, stdout=subprocess.PIPE)
        assert child.stdout.readline().strip() == b"started"
        time.sleep(delay)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        child.wait()
    done = subprocess.run([sys.executable, str(script), str(path)], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert kills >= 1
    model = SeqModel(cell="lstm")
    params = seq.init_params(model, 2, 32, 1, np.random.default_rng(0))
    want, want_log = nptrain.train(
        model, params, random_batches(), steps, np.random.default_rng(7), k1=2, k2=3, carry_state=True
    )
    got, got_log = nptrain.train(
        model, params, random_batches(), steps, np.random.default_rng(0), k1=2, k2=3, carry_state=True,
        checkpoint=path, resume=True,
    )  # fmt: skip
    for a, b in zip(_leaves(got), _leaves(want)):
        assert np.array_equal(a, b)
    same_log(got_log, want_log)
    for leftover in leftover_temp_files(path):  # a kill inside a save leaves its temporary file; harmless
        assert leftover.name.startswith(".run.npz.tmp-")


# ----------------------------------------------------------------- checkpoints of another run


def np_checkpoint(tmp_path, **kw):
    model, params = np_setup("rnn")
    path = tmp_path / "run.npz"
    nptrain.train(model, params, random_batches(), 4, np.random.default_rng(2), checkpoint=path, **kw)
    return model, params, path


@pytest.mark.parametrize(
    "change, pattern",
    [
        (dict(k1=3), r"meta\['k1'\]: expected 3, the file holds None"),
        (dict(optimizer="sgd"), r"meta\['optimizer'\]: expected 'sgd', the file holds 'adam'"),
        (dict(lr=0.5), r"meta\['lr'\]: expected 0\.5, the file holds 0\.001"),
        (dict(carry_state=True), r"meta\['carry_state'\]: expected True, the file holds False"),
    ],
)
def test_resuming_with_other_options_names_what_differs(tmp_path, change, pattern):
    model, params, path = np_checkpoint(tmp_path)
    with pytest.raises(ValueError, match=pattern):
        nptrain.train(
            model, params, random_batches(), 8, np.random.default_rng(2), checkpoint=path, resume=True, **change
        )


def test_resuming_another_model_names_the_sizes(tmp_path):
    _, _, path = np_checkpoint(tmp_path)
    model, bigger = np_setup("rnn", H=5)
    with pytest.raises(ValueError, match=r"run\.npz.*meta\['model'\]"):
        nptrain.train(model, bigger, random_batches(), 8, np.random.default_rng(2), checkpoint=path, resume=True)
    lstm, lstm_params = np_setup("lstm")
    with pytest.raises(ValueError, match=r"meta\['model'\].*'cell': 'lstm'"):
        nptrain.train(lstm, lstm_params, random_batches(), 8, np.random.default_rng(2), checkpoint=path, resume=True)


def test_resuming_with_fewer_steps_than_done_is_refused(tmp_path):
    model, params, path = np_checkpoint(tmp_path)
    with pytest.raises(
        ValueError, match=r"^steps: the checkpoint .*run\.npz holds 4 training steps, more than steps = 3"
    ):
        nptrain.train(model, params, random_batches(), 3, np.random.default_rng(2), checkpoint=path, resume=True)


def test_resuming_with_another_kind_of_generator_is_refused(tmp_path):
    model, params, path = np_checkpoint(tmp_path)
    rng = np.random.Generator(np.random.MT19937(0))
    with pytest.raises(ValueError, match=r"^rng: .*run\.npz was written with a PCG64 generator, rng is a MT19937 one"):
        nptrain.train(model, params, random_batches(), 8, rng, checkpoint=path, resume=True)


def test_a_corrupted_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    model, params, path = np_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ValueError, match=r"run\.npz"):
        nptrain.train(model, params, random_batches(), 8, np.random.default_rng(2), checkpoint=path, resume=True)


def test_torch_resume_checks_the_model_and_the_file(tmp_path):
    path = tmp_path / "run.pt"
    ttrain.train(torch_model(), random_batches(), 3, np.random.default_rng(0), checkpoint=path)
    other = SequenceRegressor(2, 5, 1, cell="lstm", generator=0).double()
    with pytest.raises(ValueError, match=r"run\.pt.*meta\['model'\]"):
        ttrain.train(other, random_batches(), 6, np.random.default_rng(0), checkpoint=path, resume=True)
    with pytest.raises(ValueError, match=r"meta\['k1'\]: expected 2, the file holds None"):
        ttrain.train(torch_model(), random_batches(), 6, np.random.default_rng(0), checkpoint=path, resume=True, k1=2)
    npz = tmp_path / "run.npz"
    np_checkpoint(tmp_path)
    with pytest.raises(ValueError, match=r"run\.npz"):
        ttrain.train(torch_model(), random_batches(), 6, np.random.default_rng(0), checkpoint=npz, resume=True)


# ----------------------------------------------------------------- stops on non-finite values


def test_numpy_divergence_names_the_step_the_tensor_and_the_last_finite_values(monkeypatch):
    model, params = np_setup("rnn")
    real = seq.window_loss_and_grads
    calls = 0

    def poisoned(*args, **kw):
        nonlocal calls
        calls += 1
        value, grads, cache = real(*args, **kw)
        if calls == 3:  # the third update's gradient: W_hh gets a NaN
            W_hh = grads.cell.dW_hh.copy()
            W_hh[1, 2] = np.nan
            grads = grads._replace(cell=grads.cell._replace(dW_hh=W_hh))
        return value, grads, cache

    monkeypatch.setattr(seq, "window_loss_and_grads", poisoned)
    with pytest.raises(training.TrainingDiverged) as info:
        nptrain.train(model, params, random_batches(), 5, np.random.default_rng(0))
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert err.step == 2 and err.tensor == "the gradient cell.dW_hh"
    last = err.log.update_loss[-1]
    assert re.fullmatch(
        r"gradient became non-finite at training step 2 \(chunk starting at time step 0\), in the gradient "
        r"cell\.dW_hh; the last finite update was at training step 1: chunk loss (\S+), gradient norm (\S+); "
        r"lower the learning rate or clip the gradient",
        str(err),
    )
    assert float(re.search(r"chunk loss (\S+),", str(err)).group(1)) == pytest.approx(last, rel=1e-5)
    assert len(err.log.loss) == 2 and len(err.log.update_loss) == 2


def test_numpy_overflow_in_the_forward_pass_is_named():
    model, params = np_setup("rnn")
    big = params._replace(readout=params.readout._replace(W_hy=params.readout.W_hy * 1e300))
    with pytest.raises(training.TrainingDiverged, match=r"^training diverged \(.*\) at training step 0 .*"
                       r"in the forward or backward pass; no update had been made yet"):  # fmt: skip
        nptrain.train(model, big, random_batches(), 2, np.random.default_rng(0))


def test_torch_divergence_names_the_parameter():
    model = torch_model()
    weight = model.inner.core.weight_hh_l0
    calls = 0

    def hook(grad):
        nonlocal calls
        calls += 1
        return grad * float("nan") if calls == 2 else grad

    weight.register_hook(hook)
    with pytest.raises(training.TrainingDiverged) as info:
        ttrain.train(model, random_batches(), 4, np.random.default_rng(0))
    err = info.value
    assert err.step == 1 and err.tensor == "the gradient of inner.core.weight_hh_l0"
    assert "the last finite update was at training step 0: chunk loss " in str(err)
    assert len(err.log.loss) == 1


def test_torch_non_finite_outputs_and_losses_are_named():
    model = torch_model()
    with torch.no_grad():
        model.inner.readout.bias.fill_(float("inf"))
    pattern = (
        r"^training diverged \(ys: non-finite value .*\) at training step 0 \(chunk starting at time step 0\), "
        r"in the forward pass; no update had been made yet"
    )
    with pytest.raises(training.TrainingDiverged, match=pattern):
        ttrain.train(model, random_batches(), 2, np.random.default_rng(0))
    with torch.no_grad():
        model.inner.readout.bias.fill_(1e200)  # finite outputs, their squared error overflows
    with pytest.raises(training.TrainingDiverged, match=r"^loss became non-finite at training step 0 .*, in loss; "):
        ttrain.train(model, random_batches(), 2, np.random.default_rng(0))


# ----------------------------------------------------------------- progress bars, devices


def test_numpy_progress_bar_only_when_asked(capsys, monkeypatch):
    model, params = np_setup("rnn")
    monkeypatch.delenv("BPTTLAB_PROGRESS", raising=False)
    nptrain.train(model, params, random_batches(), 2, np.random.default_rng(0))
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("BPTTLAB_PROGRESS", "1")
    nptrain.train(model, params, random_batches(), 2, np.random.default_rng(0))
    assert "training" in capsys.readouterr().err
    nptrain.train(model, params, random_batches(), 2, np.random.default_rng(0), progress=False)
    assert capsys.readouterr().err == ""


def test_device_as_a_string_or_a_torch_device_trains_alike():
    a, b = torch_model(), torch_model()
    log_a = ttrain.train(a, random_batches(), 3, np.random.default_rng(0), device="cpu")
    log_b = ttrain.train(b, random_batches(), 3, np.random.default_rng(0), device=torch.device("cpu"))
    same_log(log_a, log_b)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert next(a.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_training_on_a_gpu_matches_the_cpu():
    cpu, gpu = torch_model(), torch_model()
    log_cpu = ttrain.train(cpu, random_batches(), 3, np.random.default_rng(0))
    log_gpu = ttrain.train(gpu, random_batches(), 3, np.random.default_rng(0), device="cuda")
    assert next(gpu.parameters()).device.type == "cuda"
    np.testing.assert_allclose(log_gpu.loss, log_cpu.loss, rtol=1e-9)
    loss, _ = ttrain.evaluate(gpu, random_batches()(np.random.default_rng(9)))
    assert np.isfinite(loss)


def test_carry_state_on_numpy_starts_each_batch_from_the_last_state():
    """Two batches that are one sequence cut in two: with carry_state the second starts where the first ended,
    so (SGD, lr tiny so the weights barely move) its loss is the loss of the second half of the whole."""
    model, params = np_setup("rnn")
    g = np.random.default_rng(3)
    x = g.standard_normal((10, 2, 2))
    y = np.tanh(np.cumsum(x[..., :1], axis=0) / 3.0)
    halves = iter([TaskBatch(x[:5], y[:5], np.ones((5, 2)), "mse"), TaskBatch(x[5:], y[5:], np.ones((5, 2)), "mse")])
    _, log = nptrain.train(
        model, params, lambda r: next(halves), 2, np.random.default_rng(0), optimizer="sgd", lr=1e-12, carry_state=True
    )
    state0 = model.spec.numpy().zero_state(params.cell, 2)
    ys, _ = seq.forward(x, state0, params, model)
    second, _ = seq.masked_loss(ys[5:], y[5:], np.ones((5, 2)), "mse")
    assert log.loss[1] == pytest.approx(second, rel=1e-9)
    halves2 = iter([TaskBatch(x[:5], y[:5], np.ones((5, 2)), "mse"), TaskBatch(x[5:], y[5:], np.ones((5, 2)), "mse")])
    _, fresh = nptrain.train(
        model, params, lambda r: next(halves2), 2, np.random.default_rng(0), optimizer="sgd", lr=1e-12
    )
    assert fresh.loss[1] != pytest.approx(second, rel=1e-6)


def test_carry_state_needs_the_same_batch_size():
    model, params = np_setup("rnn")
    sizes = iter([3, 2])
    with pytest.raises(ValueError, match=r"^make_batch: batch of training step 1 has 2 sequences, the state carried"):
        nptrain.train(
            model, params, lambda r: random_batches(B=next(sizes))(r), 2, np.random.default_rng(0), carry_state=True
        )
