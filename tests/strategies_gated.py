"""Builders, runners and hypothesis strategies shared by the LSTM / GRU tests.

Imported as a plain module from the tests folder (``from strategies_gated import ...``).
Each problem has random non-zero biases (the initialisers give zero or constant biases,
behind which a bias bug could hide) and a random upstream gradient dhs; the scalar
whose gradients every test compares is L = sum(dhs * hs).

Every runner returns a dict name -> array with the same keys, so the three
implementations (NumPy by hand, bpttlab.torch by autograd, torch.nn with mapped
weights) are compared entry by entry: hs, dx, dh0 (and dc0 for the LSTM) and every
parameter gradient in bpttlab's layout.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from hypothesis import strategies as st


from bpttlab.init import init_gru, init_lstm
from bpttlab.numpy import gru, lstm
from bpttlab.params import GRUParams, LSTMParams, LSTMState
from bpttlab.torch import grads_of, nnmap, to_torch
from bpttlab.torch import gru as tgru
from bpttlab.torch import lstm as tlstm

from support import record  # the shared record of the largest NumPy-vs-torch error, printed after the run

TOL_TORCH = 1e-10  # float64: NumPy vs bpttlab.torch vs torch.nn (CONTRIBUTING.md, Tests)
TOL_FD = 1e-7  # central finite differences, small cases
TOL_DIRECTION = 1e-6  # random-direction check on long sequences
TOL_LOOP = 1e-12  # the sequence functions vs the step functions looped by hand
TOL_FLOAT32 = 1e-5  # float32 vs float64

# (cell, GRU variant) of every gated cell; the LSTM has no variant.
CELLS = [("lstm", None), ("gru", "torch"), ("gru", "cho")]
CELL_IDS = ["lstm", "gru-torch", "gru-cho"]



# ----------------------------------------------------------------- problems


class GDims(NamedTuple):
    """Sizes of one gated-cell problem: steps, batch, input, hidden."""

    T: int
    B: int
    D: int
    H: int


def gdims(T=(1, 30), B=(1, 4), D=(1, 8), H=(1, 8)) -> st.SearchStrategy[GDims]:
    """Hypothesis strategy of GDims, each size drawn from an inclusive (low, high) range."""
    return st.builds(GDims, *(st.integers(lo, hi) for lo, hi in (T, B, D, H)))


seeds = st.integers(min_value=0, max_value=2**32 - 1)


class Problem(NamedTuple):
    """x (T, B, D); state0: LSTMState(h0, c0) or h0 (B, H); params; dhs (T, B, H); variant (GRU only)."""

    cell: str
    variant: str | None
    x: np.ndarray
    state0: Any
    params: Any
    dhs: np.ndarray

    @property
    def state_arrays(self) -> list[np.ndarray]:
        return list(self.state0) if self.cell == "lstm" else [self.state0]

    @property
    def arrays(self) -> list[np.ndarray]:
        """Every differentiable array, in the order of ``grad_names``."""
        return [self.x, *self.state_arrays, *self.params]

    @property
    def options(self) -> dict[str, str]:
        return {} if self.cell == "lstm" else {"variant": self.variant}


def state_names(cell: str) -> list[str]:
    return ["dh0", "dc0"] if cell == "lstm" else ["dh0"]


def grad_names(cell: str) -> list[str]:
    """Names of the gradients of ``Problem.arrays``, in that order."""
    fields = LSTMParams._fields if cell == "lstm" else GRUParams._fields
    return ["dx", *state_names(cell), *("d" + f for f in fields)]


def make_problem(
    cell: str,
    variant: str | None,
    seed: int,
    d: GDims,
    dtype=np.float64,
    bias_scale: float = 0.5,
    state_scale: float = 0.5,
) -> Problem:
    """A seeded problem of sizes ``d``: init_lstm / init_gru weights, random biases, random state0 and dhs."""
    rng = np.random.default_rng(seed)
    G = 4 if cell == "lstm" else 3
    if cell == "lstm":
        params = init_lstm(d.D, d.H, rng)
        params = params._replace(b=params.b + bias_scale * rng.standard_normal(G * d.H))
    else:
        params = init_gru(d.D, d.H, rng)
        params = params._replace(
            b_x=bias_scale * rng.standard_normal(G * d.H), b_h=bias_scale * rng.standard_normal(G * d.H)
        )
    x = rng.standard_normal((d.T, d.B, d.D))
    h0 = state_scale * rng.standard_normal((d.B, d.H))
    c0 = state_scale * rng.standard_normal((d.B, d.H))
    dhs = rng.standard_normal((d.T, d.B, d.H))

    def cast(a):
        return a.astype(dtype)

    params = type(params)(*(cast(a) for a in params))
    state0 = LSTMState(cast(h0), cast(c0)) if cell == "lstm" else cast(h0)
    return Problem(cell, variant, cast(x), state0, params, cast(dhs))


def numpy_module(cell: str):
    return lstm if cell == "lstm" else gru


# ----------------------------------------------------------------- the three implementations


def run_numpy(p: Problem) -> dict[str, np.ndarray]:
    """hs and every gradient of L = sum(dhs * hs) by the hand-written NumPy BPTT."""
    mod = numpy_module(p.cell)
    hs, cache = mod.forward(p.x, p.state0, p.params, **p.options)
    dx, dstate0, grads = mod.backward(p.dhs, cache)
    states = list(dstate0) if p.cell == "lstm" else [dstate0]
    return dict(zip(["hs", *grad_names(p.cell)], [hs, dx, *states, *grads]))


def _torch_state(p: Problem):
    if p.cell == "lstm":
        return LSTMState(*(torch.tensor(a, requires_grad=True) for a in p.state0))
    return torch.tensor(p.state0, requires_grad=True)


def run_torch(p: Problem) -> dict[str, np.ndarray]:
    """The same by bpttlab.torch (the torch twin) and autograd."""
    tx = torch.tensor(p.x, requires_grad=True)
    ts = _torch_state(p)
    tp = to_torch(p.params, requires_grad=True)
    if p.cell == "lstm":
        ths = tlstm.forward(tx, ts, tp)
    else:
        ths = tgru.forward(tx, ts, tp, p.variant)
    (ths * torch.tensor(p.dhs)).sum().backward()
    states = [ts.h.grad, ts.c.grad] if p.cell == "lstm" else [ts.grad]
    values = [ths.detach().numpy(), tx.grad.numpy(), *(s.numpy() for s in states), *grads_of(tp)]
    return dict(zip(["hs", *grad_names(p.cell)], values))


def run_nn(p: Problem) -> dict[str, np.ndarray]:
    """The same by torch.nn.LSTM / torch.nn.GRU with weights mapped by ``nnmap.to_nn``.

    Gradients are mapped back to bpttlab's layout. For the LSTM, b = bias_ih + bias_hh, so
    db must equal the gradient of each; the entry "db(bias_hh)" carries the second one.
    """
    if p.cell == "gru" and p.variant != "torch":
        raise ValueError("torch.nn.GRU computes the 'torch' variant only")
    module = nnmap.to_nn(p.params)
    tx = torch.tensor(p.x, requires_grad=True)
    if p.cell == "lstm":
        th, tc = (torch.tensor(a[None], requires_grad=True) for a in p.state0)
        out, _ = module(tx, (th, tc))
        states = [th, tc]
    else:
        th = torch.tensor(p.state0[None], requires_grad=True)
        out, _ = module(tx, th)
        states = [th]
    (out * torch.tensor(p.dhs)).sum().backward()
    g = {n: q.grad.numpy() for n, q in module.named_parameters()}
    if p.cell == "lstm":
        params = [g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"]]
    else:
        params = [g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"]]
    values = [out.detach().numpy(), tx.grad.numpy(), *(s.grad[0].numpy() for s in states), *params]
    result = dict(zip(["hs", *grad_names(p.cell)], values))
    if p.cell == "lstm":
        result["db(bias_hh)"] = g["bias_hh_l0"]
    return result


def compare(group: str, ours: dict, theirs: dict, tol: float, context: str = "") -> float:
    """Assert every entry of ``ours`` agrees with ``theirs`` to ``tol`` relative error; return the largest.

    ``ours`` must cover every entry of ``theirs`` (nothing is left out silently); an entry
    "db(bias_hh)" of a torch.nn LSTM run is compared with "db".
    """
    assert set(theirs) <= set(ours), f"entries not compared: {sorted(set(theirs) - set(ours))}"
    worst = 0.0
    for name in ours:
        reference = theirs["db" if name == "db(bias_hh)" else name]
        assert ours[name].shape == reference.shape, f"{name}: shape {ours[name].shape} vs {reference.shape}"
        err = record(group, ours[name], reference)
        assert err <= tol, f"{group} {name}: rel_error {err:.2e} > {tol:.0e} {context}"
        worst = max(worst, err)
    return worst


def loss_value(p: Problem) -> float:
    """L = sum(dhs * hs) from the NumPy forward pass (reads the arrays of ``p`` afresh)."""
    hs, _ = numpy_module(p.cell).forward(p.x, p.state0, p.params, **p.options)
    return float(np.sum(p.dhs * hs))
