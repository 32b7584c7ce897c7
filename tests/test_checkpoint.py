"""Checkpointed BPTT: equal (bit for bit) to full BPTT for every cell and schedule; its costs; torch's twin."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from support import TOL_REASSOCIATED, VARIANT_IDS, CellDims, make_cell_problem, state_parts, torch_state, variant

import bpttlab.torch as bt
from bpttlab.numpy import _bptt
from bpttlab.numpy import checkpoint as ck
from bpttlab.torch import checkpoint as tck

# T around the block length (BLOCK steps per projection and weight-gradient product)
LENGTHS = (1, 2, _bptt.BLOCK - 1, _bptt.BLOCK, _bptt.BLOCK + 1, 3 * _bptt.BLOCK + 5)


def schedules(T: int) -> list[ck.Schedule]:
    out = [ck.uniform(T), ck.uniform(T, 1), ck.uniform(T, T), ck.uniform(T, 7)]
    out += [ck.budget(T, m) for m in (1, 2, 3, 6, T + 2)]
    if T > 10:
        out.append(ck.segments(T, [0, 3, 4, T - 2]))
    return out


def full(p):
    mod = p.variant.spec.numpy()
    _, cache = mod.forward(p.x, p.state0, p.params, **p.variant.options)
    return mod.backward(p.dhs, cache)


def assert_identical(res: ck.CheckpointResult, ref) -> None:
    dx, dstate0, grads = ref
    assert np.array_equal(res.dx, dx)
    for a, b in zip(state_parts_any(res.dstate0), state_parts_any(dstate0)):
        assert np.array_equal(a, b)
    for a, b in zip(res.grads, grads, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def state_parts_any(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("vid", VARIANT_IDS)
@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_schedule_gives_full_bptts_gradient_exactly(vid, T, dtype):
    p = make_cell_problem(variant(vid), seed=T, d=CellDims(T, 3, 4, 5), dtype=dtype)
    ref = full(p)
    for schedule in schedules(T):
        assert_identical(ck.bptt(p.x, p.state0, p.params, p.dhs, schedule, **p.variant.options), ref)


@settings(max_examples=25, deadline=None)
@given(
    vid=st.sampled_from(VARIANT_IDS),
    T=st.integers(1, 80),
    B=st.integers(1, 3),
    c=st.integers(1, 40),
    slots=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_random_sizes_and_schedules_are_exact(vid, T, B, c, slots, seed):
    p = make_cell_problem(variant(vid), seed=seed, d=CellDims(T, B, 3, 4))
    ref = full(p)
    for schedule in (ck.uniform(T, c), ck.budget(T, slots)):
        assert_identical(ck.bptt(p.x, p.state0, p.params, p.dhs, schedule, **p.variant.options), ref)


@functools.lru_cache
def naive_cost(t: int, m: int) -> int:
    """The recursion of Gruslys et al. (2016), written directly."""
    if t == 0:
        return 0
    if t == 1:
        return 1
    if m == 1:
        return t * (t + 1) // 2
    return min(y + naive_cost(t - y, m - 1) + naive_cost(y, m) for y in range(1, t))


def test_cost_table_is_the_recursion():
    C, Y = ck.cost_table(40, 6)
    for t in range(41):
        for m in range(1, 7):
            assert C[t, m] == naive_cost(t, m)
    for t in range(2, 41):
        for m in range(2, 7):  # the stored split attains the minimum
            y = Y[t, m]
            assert 1 <= y < t and y + C[t - y, m - 1] + C[y, m] == C[t, m]


def test_closed_forms_of_the_cost():
    for t in (1, 5, 50):
        assert ck.forward_steps(t, 1) == t * (t + 1) // 2  # one slot: rerun from the start for every step
        assert ck.forward_steps(t, t) == 2 * t - 1  # a slot per step: each step once forward, once again for its record
    costs = [ck.forward_steps(100, m) for m in range(1, 30)]
    assert all(a >= b for a, b in zip(costs, costs[1:]))  # more memory never costs more time


@pytest.mark.parametrize("vid", ["rnn-tanh", "lstm", "gru-cho"])
def test_counted_steps_and_held_states_match_the_schedule(vid):
    T, B, H = 90, 2, 5
    p = make_cell_problem(variant(vid), seed=1, d=CellDims(T, B, 3, H))
    state_bytes = sum(a.nbytes for a in state_parts(p.variant.spec, p.state0))
    for m in (1, 2, 4, 9):
        stats = ck.bptt(p.x, p.state0, p.params, p.dhs, ck.budget(T, m), **p.variant.options).stats
        assert stats.forward_steps == ck.forward_steps(T, m)
        assert stats.states_bytes <= (m - 1) * state_bytes  # the initial state is one of the m slots
    c = 10
    stats = ck.bptt(p.x, p.state0, p.params, p.dhs, ck.uniform(T, c), **p.variant.options).stats
    widths = sum(p.variant.spec.numpy().KERNEL.record_widths(H))
    assert stats.forward_steps == 2 * T  # one forward pass, one recomputation
    assert stats.records_bytes == c * B * widths * 8  # one segment of records at a time
    assert stats.states_bytes == (T // c - 1) * state_bytes  # segment starts, the initial state not counted
    _, cache = p.variant.spec.numpy().forward(p.x, p.state0, p.params, **p.variant.options)
    kept = sum(a.nbytes for a in cache[2:] if isinstance(a, np.ndarray) and a.ndim == 3)  # the records, not x
    assert kept == T * B * widths * 8
    assert 0 < stats.full_bytes - kept <= stats.buffer_bytes  # full BPTT: its records plus one block of buffers


def test_long_sequences_keep_a_few_percent_of_full_bptts_memory():
    T = 10_000
    p = make_cell_problem(variant("lstm"), seed=2, d=CellDims(T, 2, 3, 8))
    stats = ck.bptt(p.x, p.state0, p.params, p.dhs, **p.variant.options).stats
    assert stats.peak_bytes <= 0.05 * stats.full_bytes
    assert stats.forward_steps == 2 * T


# ----------------------------------------------------------------- torch


@pytest.mark.parametrize("vid", VARIANT_IDS)
@pytest.mark.parametrize("c", [None, 1, 7, 100])
def test_torch_checkpoint_gives_plain_autograds_gradient(vid, c):
    v = variant(vid)
    p = make_cell_problem(v, seed=3, d=CellDims(23, 3, 4, 5))
    mod = v.spec.torch()
    params = bt.to_torch(p.params, requires_grad=True)
    x = torch.tensor(p.x, requires_grad=True)
    s0 = torch_state(v.spec, p.state0, requires_grad=True)
    dhs = torch.tensor(p.dhs)
    leaves = [x, *state_parts(v.spec, s0), *params]
    hs_plain, plain_bytes = tck.saved_bytes(lambda: mod.forward(x, s0, params, **v.options)[0])
    g_plain = torch.autograd.grad((hs_plain * dhs).sum(), leaves)
    (hs, final), ck_bytes = tck.saved_bytes(lambda: tck.forward(x, s0, params, c, **v.options))
    g_ck = torch.autograd.grad((hs * dhs).sum(), leaves)
    assert torch.equal(hs, hs_plain)  # the forward pass is the same operations
    # autograd may sum the per-step contributions to a weight in another order: rounding only
    for a, b in zip(g_ck, g_plain, strict=True):
        assert float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)) <= TOL_REASSOCIATED
    if c in (None, 7):
        assert ck_bytes < plain_bytes  # segment inputs instead of every step's saved tensors
    assert torch.equal(state_parts(v.spec, final)[0], hs_plain[-1])


# ----------------------------------------------------------------- bad input


def bad_calls():
    p = make_cell_problem(variant("lstm"), seed=4, d=CellDims(6, 2, 3, 4))
    a = (p.x, p.state0, p.params, p.dhs)
    tp = make_cell_problem(variant("rnn-tanh"), seed=4, d=CellDims(6, 2, 3, 4))
    tx, th, tparams = torch.tensor(tp.x), torch.tensor(tp.state0), bt.to_torch(tp.params)
    return [
        (lambda: ck.uniform(0), ValueError, "^T:"),
        (lambda: ck.uniform(5, 0), ValueError, "^segment:"),
        (lambda: ck.uniform(5.0), TypeError, "^T:"),
        (lambda: ck.budget(5, 0), ValueError, "^slots:"),
        (lambda: ck.segments(5, [1, 3]), ValueError, "^starts:"),
        (lambda: ck.segments(5, [0, 3, 3]), ValueError, "^starts:"),
        (lambda: ck.segments(5, [0, 7]), ValueError, r"^starts\[1\]:"),
        (lambda: ck.segments(5, 3), TypeError, "^starts:"),
        (lambda: ck.cost_table(5, 0), ValueError, "^slots:"),
        (lambda: ck.bptt(*a, schedule=ck.uniform(7)), ValueError, "^schedule:"),
        (lambda: ck.bptt(*a, schedule="sqrt"), TypeError, "^schedule:"),
        (lambda: ck.bptt(*a, schedule=ck.Schedule(6, "binomial")), ValueError, r"^schedule.kind:"),
        (lambda: ck.bptt(*a, schedule=ck.Schedule(6, "segments", (0, 9))), ValueError, r"^starts\[1\]:"),
        (lambda: ck.bptt(p.x, p.state0, p.params, p.dhs[:-1]), ValueError, "^dhs:"),
        (lambda: ck.bptt(p.x, p.state0, p.params, p.dhs.astype(np.float32)), TypeError, "^dhs:"),
        (lambda: ck.bptt(p.x[:, :1], p.state0, p.params, p.dhs), ValueError, "^state0"),
        (lambda: ck.bptt(*a, activation="tanh"), ValueError, "activation"),
        (lambda: ck.bptt(p.x, p.state0, list(p.params), p.dhs), TypeError, "^params:"),
        (lambda: tck.forward(tx, th, tparams, 0), ValueError, "^segment:"),
        (lambda: tck.forward(tx, th, tparams, activation="bogus"), ValueError, "^activation:"),
        (lambda: tck.forward(tp.x, th, tparams), TypeError, "^x:"),
        (lambda: tck.saved_bytes(3), TypeError, "^fn:"),
    ]


@pytest.mark.parametrize("i", range(len(bad_calls())))
def test_bad_input_is_refused_naming_the_argument(i):
    call, exc, pattern = bad_calls()[i]
    with pytest.raises(exc, match=pattern):
        call()


def test_a_non_finite_gradient_is_reported_with_its_step():
    p = make_cell_problem(variant("rnn-tanh"), seed=5, d=CellDims(40, 2, 3, 4))
    dhs = p.dhs.copy()
    dhs[35, 0, 1] = np.inf
    for schedule in (ck.uniform(40), ck.budget(40, 3)):
        with pytest.raises(FloatingPointError, match="at time step 35"):
            ck.bptt(p.x, p.state0, p.params, dhs, schedule)


def test_the_trace_follows_the_schedule():
    T = 20
    p = make_cell_problem(variant("rnn-tanh"), seed=6, d=CellDims(T, 1, 1, 2))
    for schedule in (ck.uniform(T, 5), ck.budget(T, 3), ck.budget(T, 1)):
        events: list = []
        stats = ck.bptt(p.x, p.state0, p.params, p.dhs, schedule, trace=events).stats
        backward = [t for kind, t in events if kind == "backward"]
        assert backward == list(range(T - 1, -1, -1))  # every step once, latest first
        assert sum(kind == "forward" for kind, _ in events) == stats.forward_steps
        held = 0
        for i, (kind, t) in enumerate(events):
            held += {"store": 1, "free": -1}.get(kind, 0)
            if kind == "backward":  # step t is backpropagated right after it was (re)computed or from a kept segment
                assert ("forward", t) in events[:i]
            assert held >= 0
        if schedule.kind == "budget":
            assert max(np.cumsum([{"store": 1, "free": -1}.get(k, 0) for k, _ in events])) <= schedule.slots - 1
    with pytest.raises(TypeError, match="^trace:"):
        ck.bptt(p.x, p.state0, p.params, p.dhs, trace=())
