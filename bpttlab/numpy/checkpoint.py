"""Checkpointed BPTT: the gradient of full BPTT, bit for bit, from a fraction of its memory.

Full BPTT keeps every step's record (h_t, and c_t and the gates for the LSTM, r, z, n for the
GRU) for the backward pass: memory grows like T. A checkpointed schedule keeps only some states
and recomputes the records it needs from them during the backward pass, paying with extra forward
steps. Two families:

- ``uniform(T, segment)`` (and ``segments(T, starts)``): keep the state every S = ``segment`` steps
  (default S = ceil(sqrt(T))), then walk the segments backwards, recomputing each segment's
  records from its stored state before backpropagating through it. Memory: about T/S states plus
  S records; time: one extra forward pass.
- ``budget(T, slots)``: at most m = ``slots`` hidden states held at any time (the initial one
  included), records recomputed one step at a time, the placement chosen by the dynamic programme
  of Gruslys et al. (2016), "Memory-efficient backpropagation through time" (their BPTT-HSM):
  with C(t, 1) = t (t + 1) / 2, C(0, m) = 0, C(1, m) = 1,

      C(t, m) = min over 1 <= u < t of  u + C(t - u, m - 1) + C(u, m)

  forward steps: run u steps and store the state, backpropagate the last t - u steps with one slot
  fewer, then the first u with all of them. ``forward_steps(T, slots)`` gives C(T, m).

Every schedule calls the same kernel functions as the cell's ``forward``/``backward`` on the same
arrays in the same order (``bpttlab.numpy._bptt``): dx, the initial-state gradient and the weight
gradients are *equal* to full BPTT's, not merely close. Shapes as in the cells: x (T, B, D),
dhs (T, B, H), the direct loss gradient with respect to every h_t.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from bpttlab import cells
from bpttlab._checks import (
    check_cell_inputs,
    check_choice,
    check_int,
    check_type,
    check_upstream,
)
from bpttlab.numpy import _bptt

__all__ = [
    "Schedule",
    "CheckpointStats",
    "CheckpointResult",
    "uniform",
    "segments",
    "budget",
    "forward_steps",
    "cost_table",
    "bptt",
]


class Schedule(NamedTuple):
    """A checkpointing schedule for T steps.

    kind "segments": ``starts`` are the first steps of the segments (0 first, increasing);
    kind "budget": ``slots`` hidden states may be held at once (Gruslys et al. 2016).
    """

    T: int
    kind: str
    starts: tuple[int, ...] = ()
    slots: int = 0


class CheckpointStats(NamedTuple):
    """What a schedule cost.

    forward_steps: step computations (the first forward pass included; full BPTT: T);
    projected_steps: steps whose input projection was computed (in blocks of _bptt.BLOCK);
    states_bytes, records_bytes: the most bytes of stored states (the initial one not counted) and of
    recomputed records held at one time; buffer_bytes: projection blocks and the backward pass's
    block of gradients; peak_bytes: their sum (an upper bound of what was held at once);
    full_bytes: the same sum for full BPTT (every record kept).
    """

    forward_steps: int
    projected_steps: int
    states_bytes: int
    records_bytes: int
    buffer_bytes: int
    peak_bytes: int
    full_bytes: int


class CheckpointResult(NamedTuple):
    """dx (T, B, D), dstate0 (the cell's state gradient), grads (the cell's gradients), stats."""

    dx: np.ndarray
    dstate0: Any
    grads: Any
    stats: CheckpointStats


# ----------------------------------------------------------------- schedules


def segments(T: int, starts: Any) -> Schedule:
    """Keep the state at the first step of each segment: starts = (0, s_1, s_2, ...), increasing, < T."""
    T = check_int("T", T, 1)
    check_type("starts", starts, (tuple, list), "a tuple or list of steps")
    starts = tuple(check_int(f"starts[{i}]", s, 0, T - 1) for i, s in enumerate(starts))
    if not starts or starts[0] != 0:
        raise ValueError(f"starts: expected the first segment to start at step 0, got {starts}")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"starts: expected strictly increasing steps, got {starts}")
    return Schedule(T, "segments", starts)


def uniform(T: int, segment: int | None = None) -> Schedule:
    """Segments of ``segment`` steps (the last may be shorter); default ceil(sqrt(T))."""
    T = check_int("T", T, 1)
    segment = math.isqrt(T - 1) + 1 if segment is None else check_int("segment", segment, 1)
    return segments(T, list(range(0, T, segment)))


def budget(T: int, slots: int) -> Schedule:
    """At most ``slots`` hidden states held at once (slots >= 1: the initial state is one of them)."""
    T = check_int("T", T, 1)
    slots = check_int("slots", slots, 1)
    return Schedule(T, "budget", (), slots)


def cost_table(T: int, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """The dynamic programme: C[t, m] forward steps and the best first split U[t, m], t <= T, m <= slots.

    Both arrays are (T + 1, slots + 1) int64, read-only (they are computed once per (T, slots) and kept).
    """
    return _cost_table(check_int("T", T, 1), check_int("slots", slots, 1))


@functools.lru_cache(maxsize=32)
def _cost_table(T: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    t_all = np.arange(T + 1, dtype=np.int64)
    C = np.zeros((T + 1, M + 1), dtype=np.int64)
    Y = np.zeros((T + 1, M + 1), dtype=np.int64)
    C[:, 1] = t_all * (t_all + 1) // 2
    for m in range(2, M + 1):
        C[1, m] = 1
        prev = C[:, m - 1]
        col = C[:, m]
        for t in range(2, T + 1):
            y = t_all[1:t]
            vals = y + prev[t - y] + col[y]
            k = int(np.argmin(vals))
            col[t] = vals[k]
            Y[t, m] = k + 1
    C.flags.writeable = False
    Y.flags.writeable = False
    return C, Y


def forward_steps(T: int, slots: int) -> int:
    """C(T, slots): forward steps of the budget schedule (the first forward pass included)."""
    return int(cost_table(T, slots)[0][T, slots])


def _check_schedule(schedule: Any, T: int) -> Schedule:
    check_type("schedule", schedule, Schedule, "a Schedule (checkpoint.uniform, segments or budget)")
    check_choice("schedule.kind", schedule.kind, ("segments", "budget"))
    if schedule.T != T:
        raise ValueError(f"schedule: made for T = {schedule.T} steps, but x has T = {T}")
    if schedule.kind == "segments":
        return segments(T, schedule.starts)
    return budget(T, schedule.slots)


# ----------------------------------------------------------------- the drivers


class _Run:
    """Shared state of one checkpointed backward pass, with its memory and step bookkeeping."""

    def __init__(
        self,
        kernel: _bptt.Kernel,
        x: np.ndarray,
        state0: Any,
        params: Any,
        dhs: np.ndarray,
        opt: dict,
        trace: list | None,
    ):
        self.kernel, self.x, self.state0, self.p, self.opt, self.trace = kernel, x, state0, params, opt, trace
        self.u = _bptt.Projector(kernel, x, params, opt, keep=2)
        self.bp = _bptt.Backprop(kernel, x, dhs, state0, params, opt)
        self.steps = 0
        self.states_bytes = self.max_states = 0
        self.max_records = 0

    def step(self, t: int, state: Any) -> tuple[Any, tuple[np.ndarray, ...]]:
        self.steps += 1
        if self.trace is not None:
            self.trace.append(("forward", t))
        return self.kernel.step(self.u(t), state, self.p, self.opt)

    def back(self, t: int, rec: tuple[np.ndarray, ...], state_prev: Any) -> None:
        if self.trace is not None:
            self.trace.append(("backward", t))
        self.bp.step(t, rec, state_prev)

    def hold(self, state: Any, sign: int, t: int) -> None:
        """Count a stored state (sign +1) or a freed one (-1): the state after t steps."""
        if self.trace is not None:
            self.trace.append(("store" if sign > 0 else "free", t))
        self.states_bytes += sign * sum(a.nbytes for a in _arrays(state))
        self.max_states = max(self.max_states, self.states_bytes)

    def stats(self, records_width_bytes: int) -> CheckpointStats:
        T = self.x.shape[0]
        buffers = self.u.peak_bytes + self.bp.buffer_bytes
        full_buffers = self.u.block_bytes + self.bp.buffer_bytes  # full BPTT keeps one projection block
        return CheckpointStats(
            forward_steps=self.steps,
            projected_steps=self.u.projected_steps,
            states_bytes=self.max_states,
            records_bytes=self.max_records,
            buffer_bytes=buffers,
            peak_bytes=self.max_states + self.max_records + buffers,
            full_bytes=T * records_width_bytes + full_buffers,
        )


def _arrays(state: Any) -> list[np.ndarray]:
    return list(state) if isinstance(state, tuple) else [state]


def _run_segments(run: _Run, starts: tuple[int, ...]) -> None:
    T = run.x.shape[0]
    kernel = run.kernel
    ends = starts[1:] + (T,)
    stored = {0: run.state0}
    state = run.state0
    for t in range(T):  # the forward pass: keep only the segments' first states
        state, _ = run.step(t, state)
        if t + 1 in ends[:-1]:
            stored[t + 1] = state
            run.hold(state, +1, t + 1)
    H = kernel.hidden(run.state0).shape[-1]
    B = run.x.shape[1]
    widths = kernel.record_widths(H)
    for s, e in zip(reversed(starts), reversed(ends)):
        records = tuple(np.empty((e - s, B, w), dtype=run.x.dtype) for w in widths)
        run.max_records = max(run.max_records, sum(a.nbytes for a in records))
        state = stored[s]
        for t in range(s, e):  # recompute the segment's records from its stored state
            state, rec = run.step(t, state)
            for arr, r in zip(records, rec):
                arr[t - s] = r
        for t in range(e - 1, s - 1, -1):
            prev = stored[s] if t == s else kernel.state_of(tuple(a[t - s - 1] for a in records))
            run.back(t, tuple(a[t - s] for a in records), prev)
        if s > 0:
            run.hold(stored.pop(s), -1, s)


def _run_budget(run: _Run, slots: int) -> None:
    T = run.x.shape[0]
    _, Y = cost_table(T, slots)

    def backprop(s: int, e: int, m: int, start: Any) -> None:
        # steps [s, e) in reverse, the state at s held, at most m states held from here on
        while e > s:
            L = e - s
            if m == 1 or L == 1:
                for t in range(e - 1, s - 1, -1):  # from the held state to each step in turn
                    state = start
                    for k in range(s, t):
                        state, _ = run.step(k, state)
                    _, rec = run.step(t, state)
                    run.back(t, rec, state)
                    run.max_records = max(run.max_records, sum(a.nbytes for a in rec))
                return
            y = int(Y[L, m])
            state = start
            for k in range(s, s + y):
                state, _ = run.step(k, state)
            run.hold(state, +1, s + y)
            backprop(s + y, e, m - 1, state)
            run.hold(state, -1, s + y)
            e = s + y

    backprop(0, T, slots, run.state0)


def bptt(
    x: np.ndarray,
    state0: Any,
    params: Any,
    dhs: np.ndarray,
    schedule: Schedule | None = None,
    trace: list | None = None,
    **options: Any,
) -> CheckpointResult:
    """Gradients of L with dL/dh_t = dhs[t] by checkpointed BPTT, for any registry cell.

    x (T, B, D), state0 the cell's initial state, params the cell's parameters (the cell is read off
    their type), dhs (T, B, H); schedule: ``uniform(T)`` when None; options: the cell's option
    (``activation`` for the RNN, ``variant`` for the GRU). Returns dx, dstate0 and grads equal to
    ``cell.backward(dhs, cell.forward(x, state0, params, **options)[1])``, and the schedule's costs.
    trace: a list to which the schedule's events are appended in order, as (kind, t) pairs:
    ("forward", t) computes step t (0-based), ("backward", t) backpropagates through it,
    ("store", t) and ("free", t) keep and drop the state after t steps.
    """
    spec = cells.of_params(params)
    opt = spec.options(**options)
    check_cell_inputs(spec, x, state0, params, opt, step=False)
    T, B, _ = x.shape
    kernel = spec.numpy().KERNEL
    H = kernel.hidden(state0).shape[-1]
    check_upstream("dhs", dhs, np.broadcast_to(np.zeros((), dtype=x.dtype), (T, B, H)), ("T", "B", "H"))
    schedule = uniform(T) if schedule is None else _check_schedule(schedule, T)
    if trace is not None:
        check_type("trace", trace, list, "a list (events are appended to it) or None")
    run = _Run(kernel, x, state0, params, dhs, opt, trace)
    with np.errstate(over="ignore", invalid="ignore"):
        if schedule.kind == "segments":
            _run_segments(run, schedule.starts)
        else:
            _run_budget(run, schedule.slots)
    dx, dstate0, grads = run.bp.result()
    width = sum(kernel.record_widths(H)) * B * x.dtype.itemsize
    return CheckpointResult(dx, dstate0, grads, run.stats(width))
