"""Train several independent copies of a sequence model at once (one per seed).

Running S small models one after another costs S times the fixed overhead of every
NumPy call. Here the S parameter sets are packed into ONE model of hidden size S * H
whose weight matrices are block-diagonal: seed s owns rows and columns s * H to
(s + 1) * H - 1 of every gate block, reads only its own input features and writes
only its own outputs. The off-diagonal blocks start at zero and their gradients are
zeroed before every update, so they stay zero, and no seed ever sees another's
units. The loss is the sum of the S per-seed losses, each on its own batch, so the
gradient of seed s's block is exactly that seed's gradient; it is clipped by that
seed's own global norm and Adam acts entry by entry. Each seed is therefore trained
exactly as ``bpttlab.numpy.train.train`` (full BPTT, Adam, clipping by global norm)
would train it alone, which the tests check to rounding error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_callable,
    check_generator,
    check_number,
    check_optional,
    check_positive_int,
    check_same_dtype,
    check_seq_batch,
    check_seq_params,
    check_type,
)
from bpttlab.numpy import rnn, seq
from bpttlab.optim import adam_init, adam_step
from bpttlab.params import ReadoutParams
from bpttlab.tasks import TaskBatch


def _member_sizes(model: seq.SeqModel, params_list: Sequence[seq.SeqParams]) -> tuple[int, int, int]:
    """Check the parameter sets; return (D, H, O) shared by all of them."""
    seq.check_model(model)
    check_type("params_list", params_list, (list, tuple), "a non-empty list of SeqParams")
    if len(params_list) == 0:
        raise ValueError("params_list: expected a non-empty list of SeqParams, got an empty one")
    shapes = None
    for s, p in enumerate(params_list):
        check_seq_params(model, p, None, None, name=f"params_list[{s}]")
        these = tuple(a.shape for a in (*p.cell, *p.readout))
        if shapes is None:
            shapes = these
        elif these != shapes:
            raise ValueError(f"params_list[{s}]: expected the shapes of params_list[0], {shapes}, got {these}")
        for f, a in zip(p.cell._fields, p.cell):
            check_same_dtype(f"params_list[{s}].cell.{f}", a, "params_list[0]", params_list[0].cell[0].dtype)
    first = params_list[0]
    D = getattr(first.cell, first.cell._fields[0]).shape[1]
    return D, first.cell[1].shape[1], first.readout.W_hy.shape[0]


def _blocks(field: str, cell: str, S: int, D: int, H: int):
    """For one packed array: (row blocks, column blocks), each a list over seeds of index arrays."""
    spec = cells.get(cell)
    G = spec.gates
    rows = [np.concatenate([np.arange(k * S * H + s * H, k * S * H + (s + 1) * H) for k in range(G)]) for s in range(S)]
    if field.startswith("b"):
        return rows, None
    width = D if spec.fields[field][-1] == "D" else H
    return rows, [np.arange(s * width, (s + 1) * width) for s in range(S)]


def pack(model: seq.SeqModel, params_list: Sequence[seq.SeqParams]) -> seq.SeqParams:
    """One block-diagonal SeqParams (hidden S * H, input S * D, output S * O) holding every seed."""
    D, H, O = _member_sizes(model, params_list)
    S = len(params_list)
    fields = {}
    for field in params_list[0].cell._fields:
        rows, cols = _blocks(field, model.cell, S, D, H)
        first = getattr(params_list[0].cell, field)
        shape = (len(rows[0]) * S,) if cols is None else (len(rows[0]) * S, len(cols[0]) * S)
        out = np.zeros(shape, dtype=first.dtype)
        for s, p in enumerate(params_list):
            index = rows[s] if cols is None else np.ix_(rows[s], cols[s])
            out[index] = getattr(p.cell, field)
        fields[field] = out
    W_hy = np.zeros((S * O, S * H), dtype=params_list[0].readout.W_hy.dtype)
    for s, p in enumerate(params_list):
        W_hy[s * O : (s + 1) * O, s * H : (s + 1) * H] = p.readout.W_hy
    b_y = np.concatenate([p.readout.b_y for p in params_list])
    return seq.SeqParams(type(params_list[0].cell)(**fields), ReadoutParams(W_hy, b_y))


def unpack(model: seq.SeqModel, packed: seq.SeqParams, S: int, D: int, H: int, O: int) -> list[seq.SeqParams]:
    """The S parameter sets held in a packed model (copies)."""
    seq.check_model(model)
    S, D, H, O = (check_positive_int(n, v) for n, v in (("S", S), ("D", D), ("H", H), ("O", O)))
    check_seq_params(model, packed, S * D, None, name="packed")
    got_H, got_O = packed.readout.W_hy.shape[1], packed.readout.W_hy.shape[0]
    if (got_H, got_O) != (S * H, S * O):
        raise ValueError(
            f"packed: expected hidden size S * H = {S * H} and S * O = {S * O} outputs (S = {S}, H = {H}, O = {O}), "
            f"got {got_H} and {got_O}"
        )
    out = []
    for s in range(S):
        fields = {}
        for field in packed.cell._fields:
            rows, cols = _blocks(field, model.cell, S, D, H)
            value = getattr(packed.cell, field)
            fields[field] = value[rows[s]] if cols is None else value[np.ix_(rows[s], cols[s])]
        readout = ReadoutParams(
            packed.readout.W_hy[s * O : (s + 1) * O, s * H : (s + 1) * H].copy(),
            packed.readout.b_y[s * O : (s + 1) * O].copy(),
        )
        out.append(seq.SeqParams(type(packed.cell)(**fields), readout))
    return out


def _owners(model: seq.SeqModel, packed: seq.SeqParams, S: int, D: int, H: int, O: int) -> list[np.ndarray]:
    """For every packed array, an int array of its shape: the seed owning each entry, S off the blocks."""
    owners = []
    for field in packed.cell._fields:
        rows, cols = _blocks(field, model.cell, S, D, H)
        own = np.full(getattr(packed.cell, field).shape, S, dtype=np.intp)
        for s in range(S):
            own[rows[s] if cols is None else np.ix_(rows[s], cols[s])] = s
        owners.append(own)
    own_W = np.full(packed.readout.W_hy.shape, S, dtype=np.intp)
    for s in range(S):
        own_W[s * O : (s + 1) * O, s * H : (s + 1) * H] = s
    owners += [own_W, np.repeat(np.arange(S), O)]
    return owners


def train_seeds(
    model: seq.SeqModel,
    params_list: Sequence[seq.SeqParams],
    make_batch: Callable[[np.random.Generator], TaskBatch],
    steps: int,
    rngs: Sequence[np.random.Generator],
    *,
    lr: float = 1e-2,
    max_norm: float | None = None,
) -> tuple[list[seq.SeqParams], np.ndarray]:
    """Train every parameter set of ``params_list`` for ``steps`` Adam updates, all at once.

    Seed s draws its batches with ``make_batch(rngs[s])`` and is trained exactly as
    ``train.train(model, params_list[s], make_batch, steps, rngs[s], lr=lr, max_norm=max_norm)``
    (full BPTT, Adam started afresh, clipping by the seed's own global norm) would train it.
    Returns (trained parameter sets, training losses of shape (S, steps)).
    """
    D, H, O = _member_sizes(model, params_list)
    S = len(params_list)
    check_callable("make_batch", make_batch, "a function rng -> TaskBatch")
    steps = check_positive_int("steps", steps)
    check_type("rngs", rngs, (list, tuple), f"a list of {S} generators (one per parameter set)")
    if len(rngs) != S:
        raise ValueError(f"rngs: expected a list of {S} generators (one per parameter set), got {len(rngs)}")
    for s, rng in enumerate(rngs):
        check_generator(f"rngs[{s}]", rng)
    lr = check_number("lr", lr, positive=True)
    max_norm = check_optional(check_number, "max_norm", max_norm, positive=True)
    cell = model.spec.numpy()
    packed = pack(model, params_list)
    owners = _owners(model, packed, S, D, H, O)
    flat_owners = [o.ravel() for o in owners]
    state = adam_init(packed)
    losses = np.empty((S, steps))
    for i in range(steps):
        batches = [make_batch(rng) for rng in rngs]
        for s, b in enumerate(batches):
            if not isinstance(b, TaskBatch):
                raise TypeError(f"make_batch: expected it to return a TaskBatch, got {type(b).__name__}")
            name = f"make_batch(rngs[{s}])"
            try:
                check_seq_batch(b, model, O, name)
                check_same_dtype(f"{name}.x", b.x, "params_list[0]", packed.readout.W_hy.dtype)
                if not float(b.mask.sum()) > 0:
                    raise ValueError(f"{name}.mask: expected at least one step with a loss, got an all-zero mask")
            except (TypeError, ValueError, FloatingPointError) as err:
                raise type(err)(f"{err} (the batch of training step {i})") from None
            if b.x.shape != batches[0].x.shape or b.x.shape[-1] != D:
                raise ValueError(
                    f"make_batch: expected batches of shape {batches[0].x.shape} with D = {D}, "
                    f"got {b.x.shape} for seed {s}"
                )
        x = np.concatenate([b.x for b in batches], axis=-1)
        B = x.shape[1]
        hs, cache = cell.forward(x, cell.zero_state(packed.cell, B), packed.cell, **model.options())
        ys, readout_cache = rnn.readout_forward(hs, packed.readout)
        dys = np.empty_like(ys)
        for s, b in enumerate(batches):
            losses[s, i], dys[..., s * O : (s + 1) * O] = seq.masked_loss(
                ys[..., s * O : (s + 1) * O], b.y, b.mask, model.loss
            )
        if not np.all(np.isfinite(losses[:, i])):
            raise FloatingPointError(f"loss became non-finite at training step {i}; lower the learning rate")
        dhs, readout_grads = rnn.readout_backward(dys, readout_cache)
        _, _, cell_grads = cell.backward(dhs, cache)
        grads = [*cell_grads, *readout_grads]
        # grads is never empty, so sum never returns its start 0
        squares = cast(
            np.ndarray,
            sum(np.bincount(o, weights=np.square(g).ravel(), minlength=S + 1) for o, g in zip(flat_owners, grads)),
        )
        norms = np.sqrt(squares[:S])
        if not np.all(np.isfinite(norms)):
            raise FloatingPointError(f"gradient became non-finite at training step {i}")
        scale = np.ones(S + 1)
        scale[S] = 0.0  # off the diagonal blocks: no update, ever
        if max_norm is not None:
            over = norms > max_norm
            scale[:S][over] = max_norm / norms[over]
        grads = [g * scale.astype(g.dtype)[o] for g, o in zip(grads, owners)]
        n_cell = len(cell_grads)
        seq_grads = seq.SeqGrads(type(cell_grads)(*grads[:n_cell]), type(readout_grads)(*grads[n_cell:]))
        packed, state = adam_step(packed, seq_grads, state, lr=lr)
    return unpack(model, packed, S, D, H, O), losses
