"""NextFramePredictor and the closed-loop rollout: shapes, causality, the output-bias start, feedback, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bpttlab.torch.models import NextFramePredictor, SequenceRegressor, rollout
from bpttlab.video import bouncing_balls, next_frame_task


def _model(seed: int = 0, **kwargs) -> NextFramePredictor:
    torch.manual_seed(seed)
    return NextFramePredictor(8, features=6, H=5, **kwargs).double()


def _clips(T: int, B: int, seed: int = 0) -> torch.Tensor:
    frames = bouncing_balls(T, B, np.random.default_rng(seed), size=8, radius=1.5, dtype=np.float64).frames
    return torch.tensor(next_frame_task(frames).x)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_predictor_shapes_and_range(cell):
    x = _clips(6, 3)
    with torch.no_grad():
        ys, state = _model(cell=cell)(x)
    assert ys.shape == x.shape
    assert float(ys.min()) >= 0.0 and float(ys.max()) <= 1.0


def test_output_bias_starts_at_the_base_rate():
    for base_rate in (0.05, 0.5, 0.9):
        bias = _model(base_rate=base_rate).decoder.net[-1].bias.detach()  # set in float32, then cast
        assert torch.allclose(torch.sigmoid(bias), torch.full_like(bias, base_rate), rtol=1e-6, atol=0)
    assert abs(math.log(0.05 / 0.95) - float(_model().decoder.net[-1].bias.detach()[0])) < 1e-6  # the default
    # the untrained network predicts frames whose mean brightness is close to the base rate
    with torch.no_grad():
        ys, _ = _model(base_rate=0.05)(_clips(5, 4))
    assert abs(float(ys.mean()) - 0.05) < 0.03


@pytest.mark.parametrize("base_rate", [0, 1, -0.1, 1.5, float("nan"), "0.1", None])
def test_bad_base_rate_is_refused(base_rate):
    error = TypeError if isinstance(base_rate, (str, type(None))) else ValueError
    with pytest.raises(error, match="^base_rate: expected"):
        NextFramePredictor(8, features=6, H=5, base_rate=base_rate)


def test_the_error_at_a_frame_depends_on_earlier_frames_only():
    model = _model(cell="gru")
    x = _clips(9, 2).requires_grad_(True)
    ys, _ = model(x)
    for step in range(x.shape[0]):
        (grad,) = torch.autograd.grad(ys[step].sum(), x, retain_graph=True)
        per_step = grad.abs().sum(dim=(1, 2))
        assert bool((per_step[: step + 1] > 0).all()), step
        assert bool((per_step[step + 1 :] == 0).all()), step


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("context_len, steps", [(1, 1), (3, 1), (3, 5), (4, 2)])
def test_rollout_feeds_its_own_predictions_back(cell, context_len, steps):
    model = _model(cell=cell)
    context = _clips(context_len + 1, 3)[:context_len]
    with torch.no_grad():
        out = rollout(model, context, steps)
        assert out.shape == (steps, *context.shape[1:])
        # horizon 1 is the ordinary (teacher-forced) output at the last context step
        ys, _ = model(context)
        assert torch.equal(out[0], ys[-1])
        # invariant: teacher forcing on [context, own predictions] reproduces the rollout
        forced, _ = model(torch.cat([context, out[:-1]]))
        assert torch.allclose(forced[context_len - 1 :], out, rtol=1e-12, atol=1e-12)


def test_rollout_continues_from_a_given_state_and_keeps_gradients():
    model = _model(cell="lstm")
    x = _clips(6, 2)
    with torch.no_grad():
        _, state = model(x[:3])
        continued = rollout(model, x[3:5], 2, state)
        ys, _ = model(x[:5])
    assert torch.allclose(continued[0], ys[-1], rtol=1e-12, atol=1e-12)
    context = x[:3].clone().requires_grad_(True)
    rollout(model, context, 3)[-1].sum().backward()
    assert context.grad is not None and float(context.grad.abs().sum()) > 0


def test_rollout_bad_input():
    model = _model()
    x = _clips(4, 2)
    for steps, error in ((0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="^steps: expected a positive int"):
            rollout(model, x, steps)
    for context, error in ((x[0], ValueError), (x[:0], ValueError), (x.numpy(), TypeError)):
        with pytest.raises(error, match="^context: (expected|every axis)"):
            rollout(model, context, 2)
    torch.manual_seed(0)
    regressor = SequenceRegressor(3, 4, 2).double()
    with pytest.raises(ValueError, match="outputs shaped like its inputs"):
        rollout(regressor, torch.zeros(2, 1, 3, dtype=torch.float64), 2)
