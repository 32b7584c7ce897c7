"""Randomised truncation of backpropagation through time: ARTBP.

Anticipated reweighted truncated backpropagation (ARTBP), after Tallec & Ollivier (2017),
"Unbiasing truncated backpropagation through time", arXiv:1705.08209
(``tallec2017unbiasing`` in book/references.bib).

Plain TBPTT cuts the gradient at fixed places and so is biased. ARTBP cuts at random
places instead and compensates: going back through time, at the boundary between step
t and step t-1 (t = T-1, ..., 1, 0-based) the state gradient handed back is dropped with
probability 1 - c_t and otherwise divided by c_t. A gradient path from the loss of step
s back to step r < s crosses the boundaries r+1, ..., s; it survives with probability
c_{r+1} ... c_s and, when it does, carries the factor 1 / (c_{r+1} ... c_s), so its
expected contribution is exactly the full-BPTT one: the estimate is unbiased, and its
variance grows as the c_t shrink. With every c_t = 1 nothing is cut and the result is
full BPTT.

The forward pass runs step by step with the cell's ``step_forward`` (every step cache
kept), the readout and the masked loss are those of ``bpttlab.numpy.seq``, and the
backward pass is ``step_backward`` step by step, so every cell of the registry works.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np

from bpttlab._checks import check_cuts, check_finite, check_generator, check_keep, check_seq_call
from bpttlab.numpy import rnn, seq
from bpttlab.seqmodel import SeqGrads, SeqModel, SeqParams
from bpttlab.tasks import TaskBatch
from bpttlab.tree import add, paths, tree_map

__all__ = ["ArtbpResult", "artbp_loss_and_grads", "check_cuts", "check_keep"]


class ArtbpResult(NamedTuple):
    """loss: the masked loss (the same number as full BPTT's); grads: the ARTBP gradient estimate;
    cuts: bool (T,), cuts[t] True where the gradient was cut between step t and t-1 (cuts[0] always False)."""

    loss: float
    grads: SeqGrads
    cuts: np.ndarray


def artbp_loss_and_grads(
    batch: TaskBatch,
    state0: Any,
    params: SeqParams,
    model: SeqModel,
    rng: np.random.Generator | None,
    keep: float | np.ndarray,
    *,
    cuts: np.ndarray | None = None,
) -> ArtbpResult:
    """The masked loss of the whole sequence and an unbiased, randomly truncated estimate of its gradient.

    keep: the probability c_t of keeping the gradient at the boundary between step t and t-1, a number
    in (0, 1] for every boundary or an array (T,) of such numbers (entry 0 unused). Where kept, the state
    gradient handed back is divided by c_t; where cut, it is zero. The readout's gradient is exact.

    rng: a numpy.random.Generator; the pattern is drawn as ``u = rng.random(T - 1)`` (one draw per
    boundary, boundary t = 1, ..., T-1 in time order) with a cut at boundary t where u[t-1] >= c_t, so a
    seed fixes the result. cuts: a bool array (T,) (cuts[0] False) fixing the pattern instead of drawing
    it; rng is then not used and may be None. keep = 1 gives full BPTT.
    """
    check_seq_call(batch, state0, "state0", params, model)
    T = batch.x.shape[0]
    c = check_keep(keep, T)
    if cuts is None or rng is not None:
        check_generator("rng", rng)
    if cuts is None:
        assert rng is not None  # check_generator above raised unless it is a Generator
        cuts = np.zeros(T, dtype=bool)
        if T > 1:
            cuts[1:] = rng.random(T - 1) >= c[1:]
    else:
        cuts = check_cuts(cuts, T)
    normaliser = float(batch.mask.sum())
    if not normaliser > 0:
        raise ValueError(f"batch.mask: expected at least one step with a loss (sum of mask > 0), got {normaliser}")

    spec = model.spec
    cell = spec.numpy()
    opts = model.options()

    # forward, step by step, every step cache kept
    state, caches, hs = state0, [], []
    for t in range(T):
        state, step_cache = cell.step_forward(batch.x[t], state, params.cell, **opts)
        caches.append(step_cache)
        hs.append(state if spec.state is None else state.h)
    hs_arr = np.stack(hs)
    ys, out_cache = rnn.readout_forward(hs_arr, params.readout)
    value, dys = seq.masked_loss(ys, batch.y, batch.mask, model.loss, normaliser)
    dhs, readout_grads = rnn.readout_backward(dys, out_cache)

    # backward through time, cut or reweighted at every boundary
    carried = None  # the state gradient handed back from step t+1; None is zero
    cell_grads = None
    for t in range(T - 1, -1, -1):
        if spec.state_grads is None:
            dstate = dhs[t] if carried is None else dhs[t] + carried
        elif carried is None:
            # spec.state_grads is a NamedTuple class (CellSpec types it as a plain type)
            fields = cast("type[NamedTuple]", spec.state_grads)._fields
            dstate = spec.state_grads(dhs[t], *(np.zeros_like(dhs[t]) for _ in fields[1:]))
        else:
            dstate = carried._replace(**{carried._fields[0]: carried[0] + dhs[t]})
        _, dstate_prev, step_grads = cell.step_backward(dstate, caches[t])
        cell_grads = step_grads if cell_grads is None else add(cell_grads, step_grads)
        if t == 0:
            break
        if cuts[t]:
            carried = None
        else:
            scale = float(c[t])
            carried = dstate_prev if scale == 1.0 else tree_map(lambda a: a / scale, dstate_prev)
    for name, leaf in paths(cell_grads, "grads.cell"):
        check_finite(name, leaf)
    return ArtbpResult(value, SeqGrads(cell_grads, readout_grads), cuts)
