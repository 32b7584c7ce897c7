"""The small torch models of the application lessons: shapes, a state that continues a run exactly,
causality in time, order (in)sensitivity of the two video classifiers, and clear errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from support import one_torch_thread  # noqa: F401 (a fixture)

from bpttlab.torch.models import (
    CharLM,
    CNNRNNClassifier,
    FrameEncoder,
    NextFramePredictor,
    PerFrameClassifier,
    PooledFrameClassifier,
    SequenceRegressor,
    detach_state,
)

# every test builds torch models: one thread, restored afterwards
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# name -> (constructor, D, O): small sizes, frames of 8 x 8 pixels
MODELS: dict[str, tuple[Callable[[], torch.nn.Module], int, int]] = {
    "regressor-rnn": (lambda: SequenceRegressor(3, 5, 2, cell="rnn"), 3, 2),
    "regressor-lstm": (lambda: SequenceRegressor(3, 5, 2, cell="lstm"), 3, 2),
    "regressor-gru": (lambda: SequenceRegressor(3, 5, 2, cell="gru"), 3, 2),
    "next-frame": (lambda: NextFramePredictor(size=8, features=6, H=5), 64, 64),
    "per-frame": (lambda: PerFrameClassifier(size=8, n_classes=4, features=6), 64, 4),
    "pooled": (lambda: PooledFrameClassifier(size=8, n_classes=4, features=6, hidden=7), 64, 4),
    "cnn-rnn-gru": (lambda: CNNRNNClassifier(size=8, n_classes=4, features=6, H=5), 64, 4),
    "cnn-rnn-lstm": (lambda: CNNRNNClassifier(size=8, n_classes=4, features=6, H=5, cell="lstm"), 64, 4),
    "charlm-2-layers": (lambda: CharLM(7, H=5, cell="lstm", layers=2), 7, 7),
}


def build(name: str, dtype: torch.dtype = torch.float64, seed: int = 0) -> tuple[torch.nn.Module, int, int]:
    make, D, O = MODELS[name]
    torch.manual_seed(seed)
    model = make().to(dtype)
    return model, D, O


def inputs(T: int, B: int, D: int, dtype: torch.dtype = torch.float64, seed: int = 1) -> torch.Tensor:
    """Values in [0, 1]: frames for the video models, and fine inputs for the others."""
    return torch.rand((T, B, D), generator=torch.Generator().manual_seed(seed), dtype=dtype)


def tensors(state) -> list[torch.Tensor]:
    """The tensors of a state (a tensor, a tuple of tensors or None), flattened into a list."""
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in tensors(s)]


# ----------------------------------------------------------------- shapes and state


@pytest.mark.parametrize("name", MODELS)
def test_output_shape(name):
    model, D, O = build(name, torch.float32)
    ys, state = model(inputs(6, 3, D, torch.float32))
    assert ys.shape == (6, 3, O) and ys.dtype == torch.float32
    assert all(torch.isfinite(t).all() for t in [ys, *tensors(state)])
    assert len(tensors(state)) > 0  # every model returns a state to continue from


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
@pytest.mark.parametrize("name", MODELS)
def test_a_run_in_chunks_with_the_carried_state_equals_one_run(name, dtype, tol):
    model, D, _ = build(name, dtype)
    x = inputs(9, 3, D, dtype)
    with torch.no_grad():
        whole, final = model(x)
        parts, state = [], None
        for s, e in ((0, 4), (4, 5), (5, 9)):  # uneven chunks, one of a single step
            ys, state = model(x[s:e], state)
            parts.append(ys)
    torch.testing.assert_close(torch.cat(parts), whole, rtol=tol, atol=tol)
    for a, b in zip(tensors(state), tensors(final), strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    # the state matters: the last chunk from a fresh state gives other outputs
    with torch.no_grad():
        fresh, _ = model(x[5:9])
    assert (fresh - whole[5:9]).abs().max() > 1e-4


@pytest.mark.parametrize("name", MODELS)
def test_the_output_at_step_t_does_not_depend_on_later_inputs(name):
    model, D, _ = build(name)
    x = inputs(5, 2, D).requires_grad_()
    ys, _ = model(x)
    for t in range(5):
        (grad,) = torch.autograd.grad(ys[t].sum(), x, retain_graph=True)
        assert torch.all(grad[t + 1 :] == 0)  # exactly zero: no path from the future
        assert grad[: t + 1].abs().sum() > 0  # and a path from the present and the past


# ----------------------------------------------------------------- the two video classifiers


def reorder_first(x: torch.Tensor, t: int) -> torch.Tensor:
    """x with frames 0..t-1 reversed (a permutation of the first t frames)."""
    y = x.clone()
    y[:t] = x[:t].flip(0)
    return y


def test_per_frame_classifier_averages_frames_and_ignores_their_order():
    model, D, _ = build("per-frame")
    x = inputs(7, 3, D)
    with torch.no_grad():
        ys, _ = model(x)
        ys_perm, _ = model(reorder_first(x, 5))
        single = torch.stack([model(x[t : t + 1])[0][0] for t in range(7)])  # each frame on its own
    torch.testing.assert_close(ys_perm[4:], ys[4:], rtol=1e-12, atol=1e-12)  # steps 5.. see the same set of frames
    assert (ys_perm[0] - ys[0]).abs().max() > 1e-4  # step 1 sees another frame
    # the output at step t is the mean of the per-frame outputs of frames 1..t
    steps = torch.arange(1, 8, dtype=torch.float64).reshape(7, 1, 1)
    torch.testing.assert_close(ys, single.cumsum(0) / steps, rtol=1e-12, atol=1e-12)


def test_pooled_classifier_applies_its_head_to_the_mean_features_and_ignores_their_order():
    model, D, _ = build("pooled")
    x = inputs(7, 3, D)
    with torch.no_grad():
        ys, _ = model(x)
        ys_perm, _ = model(reorder_first(x, 5))
        features = model.encode(x)
        steps = torch.arange(1, 8, dtype=torch.float64).reshape(7, 1, 1)
        expected = model.head(features.cumsum(0) / steps)
    torch.testing.assert_close(ys_perm[4:], ys[4:], rtol=1e-12, atol=1e-12)  # steps 5.. see the same set of frames
    assert (ys_perm[0] - ys[0]).abs().max() > 1e-4  # step 1 sees another frame
    torch.testing.assert_close(ys, expected, rtol=1e-12, atol=1e-12)
    # the head is not linear: the output of the mean is not the mean of the per-frame outputs
    with torch.no_grad():
        single = torch.stack([model(x[t : t + 1])[0][0] for t in range(7)])
    assert (ys[-1] - single.mean(0)).abs().max() > 1e-4


def test_cnn_rnn_classifier_sees_the_order_of_the_frames():
    model, D, _ = build("cnn-rnn-gru")
    x = inputs(7, 3, D)
    with torch.no_grad():
        ys, _ = model(x)
        ys_perm, _ = model(reorder_first(x, 5))
    assert (ys_perm[4] - ys[4]).abs().max() > 1e-4


def test_next_frame_predictions_are_frames_in_the_unit_interval():
    model, D, _ = build("next-frame", torch.float32)
    for scale in (1.0, 1e3, -1e3):  # whatever the input, a sigmoid output is a valid pixel value
        with torch.no_grad():
            ys, _ = model(scale * inputs(4, 2, D, torch.float32))
        assert ys.min() >= 0.0 and ys.max() <= 1.0


# ----------------------------------------------------------------- detach_state


def test_detach_state_cuts_the_graph_and_keeps_the_values():
    model, D, _ = build("regressor-lstm")
    x = inputs(6, 2, D).requires_grad_()
    _, state = model(x[:3])
    assert isinstance(state, tuple) and all(s.grad_fn is not None for s in state)
    cut = detach_state(state)
    assert type(cut) is type(state) and len(cut) == 2
    for a, b in zip(cut, state):
        assert a.grad_fn is None and not a.requires_grad
        assert torch.equal(a, b)
    # no gradient reaches the first chunk through a detached state; through the original one it does
    ys, _ = model(x[3:], cut)
    (g_cut,) = torch.autograd.grad(ys.sum(), x)
    assert torch.all(g_cut[:3] == 0) and g_cut[3:].abs().sum() > 0
    ys, _ = model(x[3:], state)
    (g_full,) = torch.autograd.grad(ys.sum(), x)
    assert g_full[:3].abs().sum() > 0
    assert detach_state(None) is None
    h = x[0] * 2
    assert detach_state(h).grad_fn is None and h.grad_fn is not None


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", MODELS)
def test_bad_inputs_are_named(name):
    model, D, _ = build(name)
    with pytest.raises(ValueError, match=rf"^x: expected D = {D} \(from the model\) on axis 2 of \(T, B, D\)"):
        model(inputs(4, 2, D + 1))
    with pytest.raises(ValueError, match=r"^x: expected 3 axes \(T, B, D\), got 2 axes"):
        model(inputs(4, 2, D)[0])
    with pytest.raises(TypeError, match=r"^x: expected a torch\.Tensor of shape \(T, B, D\), got ndarray"):
        model(np.zeros((4, 2, D)))
    with pytest.raises(TypeError, match=r"^x: expected dtype torch\.float64 \(the dtype of the model's parameters\)"):
        model(inputs(4, 2, D, dtype=torch.float32))
    bad = inputs(4, 2, D)
    bad[2, 1, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"^x: non-finite value \(NaN or inf\) at time step 2"):
        model(bad)


@pytest.mark.parametrize("name", MODELS)
def test_bad_states_are_named(name):
    """A state of the wrong kind, shape or dtype is refused naming ``state`` (never a torch error about 'hidden')."""
    model, D, _ = build(name)
    x = inputs(4, 2, D)
    _, state = model(x)
    wrong_batch = detach_state(model(inputs(4, 3, D))[1])
    with pytest.raises(ValueError, match=r"^state(\[\d\] \(\w+\))?: expected shape"):
        model(x, wrong_batch)
    with pytest.raises(TypeError, match=r"^state(\[\d\] \(\w+\))?: expected"):
        model(x, "state")
    as_float32 = tuple(t.float() for t in state) if isinstance(state, tuple) else state.float()
    with pytest.raises(TypeError, match=r"^state(\[\d\] \(\w+\))?: expected dtype torch\.float64"):
        model(x, as_float32)


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match=r"^cell: expected one of \['rnn', 'lstm', 'gru'\]"):
        SequenceRegressor(3, 5, 2, cell="transformer")
    with pytest.raises(ValueError, match=r"^H: expected a positive int"):
        SequenceRegressor(3, 0, 2)
    with pytest.raises(TypeError, match=r"^D: expected a positive int, got float"):
        SequenceRegressor(2.5, 4, 2)
    with pytest.raises(TypeError, match=r"^V: expected a positive int, got str"):
        CharLM("7")
    with pytest.raises(TypeError, match=r"^normalize: expected True or False, got str"):
        PerFrameClassifier(size=8, normalize="no")
    with pytest.raises(TypeError, match=r"^size: expected a positive int, got float"):
        FrameEncoder(8.0, 6)
    with pytest.raises(ValueError, match=r"^cell: expected"):
        CharLM(7, cell="lstmx")
    with pytest.raises(ValueError, match=r"^cell: expected"):
        CNNRNNClassifier(size=8, cell="cnn")
    with pytest.raises(ValueError, match=r"^size: expected a multiple of 4"):
        FrameEncoder(10, 6)
    with pytest.raises(ValueError, match=r"^size: expected a multiple of 4"):
        PerFrameClassifier(size=6)
    with pytest.raises(ValueError, match=r"^size: expected a multiple of 4"):
        PooledFrameClassifier(size=6)
    for name in ("n_classes", "features", "hidden"):
        with pytest.raises(ValueError, match=rf"^{name}: expected a positive int, got 0"):
            PooledFrameClassifier(size=8, **{name: 0})
        for bad in (2.5, True):
            with pytest.raises(TypeError, match=rf"^{name}: expected a positive int, got {type(bad).__name__}"):
                PooledFrameClassifier(size=8, **{name: bad})


# ----------------------------------------------------------------- initial weights from generator=

# name -> constructor taking the generator (one model of each class with random weights)
SEEDED: dict[str, Callable[..., torch.nn.Module]] = {
    "regressor-lstm": lambda g: SequenceRegressor(3, 5, 2, cell="lstm", generator=g),
    "regressor-gru": lambda g: SequenceRegressor(3, 5, 2, cell="gru", generator=g),
    "next-frame": lambda g: NextFramePredictor(size=8, features=6, H=5, generator=g),
    "per-frame": lambda g: PerFrameClassifier(size=8, n_classes=4, features=6, generator=g),
    "pooled": lambda g: PooledFrameClassifier(size=8, n_classes=4, features=6, hidden=7, generator=g),
    "cnn-rnn": lambda g: CNNRNNClassifier(size=8, n_classes=4, features=6, H=5, generator=g),
    "charlm": lambda g: CharLM(7, H=5, layers=2, generator=g),
}


def weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("name", SEEDED)
def test_an_int_seed_gives_the_same_weights_as_manual_seed_and_leaves_the_global_rng_alone(name):
    make = SEEDED[name]
    torch.manual_seed(12345)
    before = torch.get_rng_state()
    first, again = weights(make(7)), weights(make(7))
    assert torch.equal(torch.get_rng_state(), before)  # construction drew nothing from the global generator
    assert same(first, again)
    assert not same(first, weights(make(8)))
    torch.manual_seed(7)  # the old way: seed the global generator, then build
    assert same(first, weights(make(None)))
    assert same(first, weights(make(np.int64(7))))  # a NumPy integer is an int seed too


@pytest.mark.parametrize("name", SEEDED)
def test_a_torch_generator_is_advanced_so_two_models_differ(name):
    make = SEEDED[name]
    g = torch.Generator().manual_seed(7)
    start = g.get_state()
    first = weights(make(g))
    assert same(first, weights(make(7)))  # a fresh generator seeded with 7 is the int seed 7
    assert not torch.equal(g.get_state(), start)  # its stream moved on ...
    assert not same(first, weights(make(g)))  # ... so the next model gets other weights


@pytest.mark.parametrize(
    "generator, error, pattern",
    [
        ("7", TypeError, r"^generator: expected a torch\.Generator, an int seed or None, got str"),
        (1.5, TypeError, r"^generator: expected a torch\.Generator, an int seed or None, got float"),
        (True, TypeError, r"^generator: expected a torch\.Generator, an int seed or None, got bool"),
        (np.random.default_rng(0), TypeError, r"^generator: expected a torch\.Generator, an int seed or None"),
        (-1, ValueError, r"^generator: expected an int in \[0, inf\], got -1"),
    ],
    ids=["str", "float", "bool", "numpy Generator", "negative"],
)
def test_bad_generators_are_named(generator, error, pattern):
    with pytest.raises(error, match=pattern):
        SequenceRegressor(3, 5, 2, generator=generator)
