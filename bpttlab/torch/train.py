"""The training loop of ``bpttlab.numpy.train`` for torch models (gradients by autograd).

A model maps (x, state) to (ys, state), time-first (see ``bpttlab.torch.models``).
Each training step draws a batch, runs it in chunks of k steps (truncated BPTT:
the state is carried into the next chunk and cut from its history with detach;
k = None is full BPTT), clips the gradient if asked, and updates with Adam or SGD.
With ``carry_state`` the state also flows from one batch to the next, for streams
whose batches are consecutive chunks. Non-finite losses or gradients stop the loop
with a message naming the training step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bpttlab._checks import (
    check_bool,
    check_callable,
    check_choice,
    check_generator,
    check_number,
    check_optional,
    check_positive_int,
    check_type,
)
from bpttlab.seqmodel import TrainLog
from bpttlab.tasks import ADDING_TOLERANCE, TaskBatch, accuracy, check_task_batch
from bpttlab.torch.seq import batch_to_torch, masked_loss
from bpttlab.tree import detach
from bpttlab.truncation import windows

__all__ = ["TrainLog", "clip_grad_norm", "evaluate", "show_progress", "to_tensors", "train"]


def show_progress(progress: bool | None) -> bool:
    """None means: show a progress bar only when the environment variable BPTTLAB_PROGRESS is 1."""
    check_optional(check_bool, "progress", progress)
    return os.environ.get("BPTTLAB_PROGRESS") == "1" if progress is None else bool(progress)


def to_tensors(batch: TaskBatch, dtype: torch.dtype) -> TaskBatch:
    """A TaskBatch of tensors: x, mask and float targets in ``dtype``; integer labels as int64 (``batch_to_torch``)."""
    return batch_to_torch(batch, dtype)


def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> float:
    """Scale the ``.grad`` of ``params`` in place so that their global norm is at most ``max_norm``; return the norm before.

    The formula of ``bpttlab.clip.clip_by_global_norm``: g <- g * max_norm / ||g|| when ||g|| > max_norm
    (torch's ``clip_grad_norm_`` divides by ``||g|| + 1e-6`` instead), with ||g|| summed in float64.
    """
    max_norm = check_number("max_norm", max_norm, positive=True)
    if isinstance(params, torch.Tensor) or not hasattr(params, "__iter__"):
        raise TypeError(
            f"params: expected a list of tensors (for example list(model.parameters())), got {type(params).__name__}"
        )
    params = list(params)
    for k, p in enumerate(params):
        check_type(f"params[{k}]", p, torch.Tensor, "a torch.Tensor")
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            raise FloatingPointError(f"params[{k}].grad: non-finite gradient (NaN or inf); clipping cannot repair it")
    grads = [p.grad for p in params if p.grad is not None]
    norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads))) if grads else 0.0
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g.mul_(scale)
    return norm


def _backend(batch: TaskBatch) -> str:
    """ "torch" for a batch of tensors, else "numpy" (both are accepted and converted by to_tensors)."""
    return "torch" if isinstance(batch.x, torch.Tensor) else "numpy"


def _param_dtype(model: torch.nn.Module) -> torch.dtype:
    p = next(model.parameters(), None)
    if p is None:
        raise ValueError("model: expected a torch.nn.Module with parameters")
    return p.dtype


def train(
    model: torch.nn.Module,
    make_batch: Callable[[np.random.Generator], TaskBatch],
    steps: int,
    rng: np.random.Generator,
    *,
    lr: float = 1e-3,
    optimizer: str = "adam",
    max_norm: float | None = None,
    clip_value: float | None = None,
    k: int | None = None,
    carry_state: bool = False,
    progress: bool | None = None,
) -> TrainLog:
    """Train ``model`` in place for ``steps`` batches drawn by ``make_batch(rng)``; returns the log.

    k: truncation length (TBPTT(k, k), an update per chunk); None: full BPTT, one update per batch.
    max_norm / clip_value: clip by global norm / by value before each update.
    progress: a tqdm bar; None shows it only when BPTTLAB_PROGRESS=1 (never in stored lesson outputs).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    check_callable("make_batch", make_batch, "a function rng -> TaskBatch")
    steps = check_positive_int("steps", steps)
    check_generator("rng", rng)
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    if k is not None:
        k = check_positive_int("k", k)
    if max_norm is not None and clip_value is not None:
        raise ValueError("max_norm, clip_value: expected at most one clipping rule, got both")
    lr = check_number("lr", lr, positive=True)
    if max_norm is not None:
        max_norm = check_number("max_norm", max_norm, positive=True)
    if clip_value is not None:
        clip_value = check_number("clip_value", clip_value, positive=True)
    check_bool("carry_state", carry_state)
    check_optional(check_bool, "progress", progress)
    dtype = _param_dtype(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    losses, update_losses, norms, clipped = [], [], [], []
    iterator: Any = range(steps)
    if show_progress(progress):
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="training", leave=False)
    state = None
    model.train()
    for i in iterator:
        batch = make_batch(rng)
        if not isinstance(batch, TaskBatch):
            raise TypeError(f"make_batch: expected it to return a TaskBatch, got {type(batch).__name__}")
        try:
            check_task_batch(batch, "make_batch(rng)", False, _backend(batch))
        except (TypeError, ValueError, FloatingPointError) as err:
            raise type(err)(f"{err} (the batch of training step {i})") from None
        batch = to_tensors(batch, dtype)
        T = batch.x.shape[0]
        N = float(batch.mask.sum())
        if not N > 0:
            raise ValueError(f"make_batch: batch of training step {i} has no step with a loss (mask all zero)")
        if not carry_state:
            state = None
        step_loss = 0.0
        for _, s, e in windows(T, k, k):
            ys, state = model(batch.x[s:e], state)
            state = detach(state)  # carry the state, cut the graph
            if float(batch.mask[s:e].sum()) == 0:
                continue
            loss = masked_loss(ys, batch.y[s:e], batch.mask[s:e], batch.loss, N)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became non-finite at training step {i} (chunk starting at time step {s}); "
                    "lower the learning rate or clip the gradient"
                )
            opt.zero_grad()
            loss.backward()
            norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None)))
            if not np.isfinite(norm):
                raise FloatingPointError(
                    f"gradient became non-finite at training step {i} (chunk starting at time step {s})"
                )
            was_clipped = False
            if max_norm is not None:
                clip_grad_norm(params, max_norm)
                was_clipped = norm > max_norm
            elif clip_value is not None:
                was_clipped = any(bool((p.grad.abs() > clip_value).any()) for p in params if p.grad is not None)
                torch.nn.utils.clip_grad_value_(params, clip_value)
            clipped.append(was_clipped)
            opt.step()
            step_loss += loss.item()
            update_losses.append(loss.item())
            norms.append(norm)
        losses.append(step_loss)
    model.eval()
    return TrainLog(np.array(losses), np.array(update_losses), np.array(norms), np.array(clipped, dtype=bool))


@torch.no_grad()
def evaluate(model: torch.nn.Module, batch: TaskBatch, tolerance: float = ADDING_TOLERANCE) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``batch`` from a fresh state (accuracy as in bpttlab.tasks.accuracy)."""
    check_type("model", model, torch.nn.Module, "a torch.nn.Module")
    check_type("batch", batch, TaskBatch, "a bpttlab.tasks.TaskBatch")
    check_task_batch(batch, "batch", False, _backend(batch))
    check_number("tolerance", tolerance, positive=True)
    t = to_tensors(batch, _param_dtype(model))
    ys, _ = model(t.x)
    value = float(masked_loss(ys, t.y, t.mask, batch.loss))
    if isinstance(batch.x, torch.Tensor):  # accuracy reads NumPy arrays
        batch = TaskBatch(*(v.detach().cpu().numpy() for v in batch[:3]), batch.loss)
    return value, accuracy(ys.double().numpy(), batch, tolerance)
