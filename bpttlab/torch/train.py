"""The training loop of ``bpttlab.numpy.train`` for torch models (gradients by autograd).

A model maps (x, state) to (ys, state), time-first (see ``bpttlab.torch.models``).
Each training step draws a batch and runs it in the chunks of TBPTT(k1, k2): every
k1 steps an update from the losses of those steps, backpropagated k2 steps (the state
entering a window is cut from its history with detach; k1 = k2 = None is full BPTT).
The arguments, defaults and log are those of ``bpttlab.numpy.train.train`` (written
once, in ``bpttlab.training``): learning-rate schedules, the state carried from batch to
batch (``carry_state``), clipping by norm or value, checkpoints of the model, the
optimiser, both generators, the carried state and the log, written atomically with
``bpttlab.torch.saving`` and resumed bit-identically, and a clear stop
(:class:`~bpttlab.training.TrainingDiverged`) on a non-finite loss or gradient. ``device`` puts the model
and the batches on a CPU or GPU.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, cast

import numpy as np
import torch

from bpttlab import training
from bpttlab._checks import check_number, check_type
from bpttlab.saving import _check_rng_state
from bpttlab.seqmodel import TrainLog
from bpttlab.tasks import ADDING_TOLERANCE, TaskBatch, accuracy, check_task_batch
from bpttlab.torch.saving import load_state, save_state
from bpttlab.torch.seq import batch_to_torch, masked_loss
from bpttlab.training import DEFAULTS, TrainingDiverged, show_progress
from bpttlab.tree import detach, tree_map
from bpttlab.truncation import windows

__all__ = [
    "TrainLog",
    "TrainingDiverged",
    "check_device",
    "clip_grad_norm",
    "evaluate",
    "show_progress",
    "to_tensors",
    "train",
]

LOOP = "bpttlab.torch.train"
_CHECKPOINT_KEYS = ("model", "optimizer", "step", "rng_state", "torch_rng_state", "carry", "log")


def check_device(name: str, device: Any) -> torch.device:
    """A device argument: a str such as "cpu" or "cuda:0", or a torch.device, that this machine has."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"{name}: expected a str such as 'cpu' or 'cuda' or a torch.device, got {type(device).__name__}"
        )
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"{name}: expected a device such as 'cpu' or 'cuda:0', got {device!r} ({err})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}: {device!r} asks for a GPU, and torch finds none on this machine (use 'cpu')")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}: expected a 'cpu' or 'cuda' device, got {device!r}")
    return dev


def to_tensors(batch: TaskBatch, dtype: torch.dtype) -> TaskBatch:
    """A TaskBatch of tensors: x, mask and float targets in ``dtype``; integer labels as int64 (``batch_to_torch``)."""
    return batch_to_torch(batch, dtype)


def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> float:
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
    norm = float(torch.sqrt(cast(torch.Tensor, sum((g.double() ** 2).sum() for g in grads)))) if grads else 0.0
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


def _model_meta(model: torch.nn.Module, dtype: torch.dtype) -> dict[str, Any]:
    sizes = {name: list(value.shape) for name, value in model.state_dict().items()}
    return {"class": type(model).__name__, "dtype": str(dtype), "sizes": sizes}


def _resume(
    where: Any,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    rng: np.random.Generator,
    meta: dict,
    steps: int,
    device: torch.device,
) -> tuple[int, Any, dict]:
    """Load a checkpoint of this loop into ``model`` and ``opt``; set both generators; return (step, carry, log)."""
    saved = load_state(where, expect_meta=meta)
    if not isinstance(saved, dict) or sorted(saved) != sorted(_CHECKPOINT_KEYS):
        raise ValueError(f"{where}: not a checkpoint of {LOOP} (expected the keys {list(_CHECKPOINT_KEYS)})")
    step = saved["step"]
    log = {k: v.numpy() for k, v in saved["log"].items()}
    training.check_saved_log(str(where), log, step, steps)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    training.restore_rng(rng, json.loads(saved["rng_state"]), str(where))
    torch.set_rng_state(saved["torch_rng_state"])
    carry = None if saved["carry"] is None else tree_map(lambda t: t.to(device), saved["carry"])
    return step, carry, log


def train(
    model: torch.nn.Module,
    make_batch: Callable[[np.random.Generator], TaskBatch],
    steps: int,
    rng: np.random.Generator,
    *,
    lr: float | Callable[[int], float] = DEFAULTS["lr"],
    optimizer: str = DEFAULTS["optimizer"],
    max_norm: float | None = DEFAULTS["max_norm"],
    clip_value: float | None = DEFAULTS["clip_value"],
    k1: int | None = DEFAULTS["k1"],
    k2: int | None = DEFAULTS["k2"],
    carry_state: bool = DEFAULTS["carry_state"],
    checkpoint: Any = DEFAULTS["checkpoint"],
    checkpoint_every: int = DEFAULTS["checkpoint_every"],
    resume: bool = DEFAULTS["resume"],
    progress: bool | None = DEFAULTS["progress"],
    device: str | torch.device = "cpu",
) -> TrainLog:
    """Train ``model`` in place for ``steps`` batches drawn by ``make_batch(rng)``; returns the log.

    The arguments are those of ``bpttlab.numpy.train.train`` (see there), and:

    - device: where the model (moved there in place) and the batches live ("cpu", "cuda", ...);
    - checkpoint: a file written with ``bpttlab.torch.saving.save_state`` holding the model's
      and the optimiser's state dicts, the step, ``rng``'s state (JSON text), torch's CPU
      generator state (a tensor), the carried state and the log.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    options = training.check_options(
        make_batch, steps, rng, lr=lr, optimizer=optimizer, max_norm=max_norm, clip_value=clip_value,
        k1=k1, k2=k2, carry_state=carry_state, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        resume=resume, progress=progress,
    )  # fmt: skip
    dev = check_device("device", device)
    dtype = _param_dtype(model)
    model.to(dev)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    lr0 = options.lr_at(0)
    opt = torch.optim.Adam(params, lr=lr0) if options.optimizer == "adam" else torch.optim.SGD(params, lr=lr0)
    meta = options.meta(LOOP, _model_meta(model, dtype))
    first, state, log = 0, None, training.Log()
    where = options.resume_from()
    if where is not None:
        first, state, saved = _resume(where, model, opt, rng, meta, options.steps, dev)
        log = training.Log(saved)
    model.train()
    for i in training.steps_iter(first, options):
        batch = training.check_batch(make_batch(rng), i)
        try:
            check_task_batch(batch, "make_batch(rng)", False, _backend(batch))
        except (TypeError, ValueError, FloatingPointError) as err:
            raise type(err)(f"{err} (the batch of training step {i})") from None
        batch = to_tensors(batch, dtype)
        batch = TaskBatch(batch.x.to(dev), batch.y.to(dev), batch.mask.to(dev), batch.loss)
        T = batch.x.shape[0]
        N = float(batch.mask.sum())
        if not N > 0:
            raise ValueError(f"make_batch: batch of training step {i} has no step with a loss (mask all zero)")
        for group in opt.param_groups:
            group["lr"] = options.lr_at(i)
        schedule = windows(T, options.k1, options.k2)
        history = {0: state if options.carry_state else None}
        step_loss = 0.0
        for c, (w, s, e) in enumerate(schedule):
            w_next = schedule[c + 1].start if c + 1 < len(schedule) else T
            # run [w, e) in pieces that end where a later window starts; as in the NumPy loop, a state is
            # kept from the chunk whose losses reach it (s < t <= e), computed once, as if online
            cuts = sorted({win.start for win in schedule[c + 1 :] if s < win.start < e} | {e})
            h, t0, pieces = history[w], w, []
            kept = {}
            try:
                for t in cuts:
                    y, h = model(batch.x[t0:t], h)
                    pieces.append(y)
                    kept[t] = detach(h)  # carried on, cut from the graph
                    t0 = t
                ys = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
                loss = masked_loss(ys[s - w :], batch.y[s:e], batch.mask[s:e], batch.loss, N)
            except FloatingPointError as err:  # an output or a state became non-finite (the model's checks)
                raise log.diverged(i, s, "the forward pass", f"training diverged ({err})") from err
            history = {t: v for t, v in history.items() if t >= w_next}
            history.update({t: v for t, v in kept.items() if t >= w_next})
            if float(batch.mask[s:e].sum()) == 0:
                continue
            if not torch.isfinite(loss):
                raise log.diverged(i, s, "loss", "loss became non-finite")
            opt.zero_grad()
            loss.backward()
            squares = sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None)
            norm = float(torch.sqrt(cast(torch.Tensor, squares)))
            if not np.isfinite(norm):
                bad = training.first_nonfinite((f"the gradient of {n}", _cpu(p.grad)) for n, p in named)
                raise log.diverged(i, s, bad or "the gradient", "gradient became non-finite")
            was_clipped = False
            if options.max_norm is not None:
                clip_grad_norm(params, options.max_norm)
                was_clipped = norm > options.max_norm
            elif options.clip_value is not None:
                cv = options.clip_value
                was_clipped = any(bool((p.grad.abs() > cv).any()) for p in params if p.grad is not None)
                torch.nn.utils.clip_grad_value_(params, cv)
            opt.step()
            value = loss.item()
            step_loss += value
            log.update(i, value, norm, was_clipped)
        log.end_step(step_loss)
        state = history[T] if options.carry_state else None
        if options.checkpoint is not None and options.save_now(i + 1):
            saved_log = {k: torch.from_numpy(v) for k, v in log.as_dict().items()}
            checkpoint_state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": i + 1,
                "rng_state": json.dumps(_check_rng_state(rng.bit_generator.state)),
                "torch_rng_state": torch.get_rng_state(),
                "carry": state,
                "log": saved_log,
            }
            save_state(options.checkpoint, checkpoint_state, meta)
    model.eval()
    return log.result()


def _cpu(grad: torch.Tensor | None) -> np.ndarray | None:
    return None if grad is None else grad.detach().cpu().numpy()


@torch.no_grad()
def evaluate(model: torch.nn.Module, batch: TaskBatch, tolerance: float = ADDING_TOLERANCE) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``batch`` from a fresh state (accuracy as in bpttlab.tasks.accuracy)."""
    check_type("model", model, torch.nn.Module, "a torch.nn.Module")
    check_type("batch", batch, TaskBatch, "a bpttlab.tasks.TaskBatch")
    check_task_batch(batch, "batch", False, _backend(batch))
    check_number("tolerance", tolerance, positive=True)
    t = to_tensors(batch, _param_dtype(model))
    dev = next(model.parameters()).device
    ys, _ = model(t.x.to(dev))
    ys = ys.cpu()
    value = float(masked_loss(ys, t.y, t.mask, batch.loss))
    if isinstance(batch.x, torch.Tensor):  # accuracy reads NumPy arrays
        x, y, mask = (v.detach().cpu().numpy() for v in batch[:3])
        batch = TaskBatch(x, y, mask, batch.loss)
    return value, accuracy(ys.double().numpy(), batch, tolerance)
