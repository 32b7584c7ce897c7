"""The parts that full BPTT and checkpointed BPTT are both built from (private).

Every NumPy cell module defines a ``KERNEL`` (a :class:`Kernel`): its input projection, one
forward step, one backward step and the weight gradients of a block of steps. The cell's own
``forward``/``backward`` and every schedule of :mod:`bpttlab.numpy.checkpoint` run the same
kernel calls on the same arrays in the same order, so their gradients agree bit for bit:

- the input projection u = W_x x + b is formed one *block* of ``BLOCK`` steps at a time, blocks
  aligned to t = 0 (:class:`Projector`), whichever steps are being (re)computed;
- the backward pass visits t = T-1, ..., 0 one step at a time (:class:`Backprop`); the per-step
  gradients of the pre-activations are collected for one block, and when the block's first step
  is reached the block's weight gradients and input gradients are formed with one matrix product
  each and added to the running sum, last block first.

Only the steps' records (what a backward step needs: h_t, c_t, gates, ...) differ between the
schedules: full BPTT keeps all of them, checkpointing recomputes them from stored states.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

BLOCK = 32  # steps per input projection and per weight-gradient product


class Kernel(NamedTuple):
    """What a cell module provides to the BPTT drivers (opt: the cell's option dict, e.g. activation).

    project(x_blk (n, B, D), p, opt) -> u (n, B, G)
    step(u_t (B, G), state, p, opt) -> (state_t, rec_t); rec_t a tuple of (B, w) arrays, widths record_widths(H)
    state_of(rec_t) -> state_t, hidden(state) -> h (B, H)
    back_step(g_t, carry, rec_t, state_prev, p, opt) -> (parts_t, dh_prev, carry_prev); g_t = dL/dh_t in total,
        carry the gradient of the rest of the state (None for a cell whose state is h alone)
    zero_carry(state0) -> the carry at t = T;  state_grad(dh, carry) -> the contract's state gradient
    block_grads(parts_blk, x_blk, hprev_blk, p, opt) -> the weight gradients of a block of steps
    dx_block(parts_blk, p) -> dx (n, B, D);  part_widths(H, opt) -> widths of parts_t
    """

    project: Callable[..., np.ndarray]
    step: Callable[..., tuple[Any, tuple[np.ndarray, ...]]]
    state_of: Callable[[tuple[np.ndarray, ...]], Any]
    hidden: Callable[[Any], np.ndarray]
    back_step: Callable[..., tuple[tuple[np.ndarray, ...], np.ndarray, Any]]
    zero_carry: Callable[[Any], Any]
    state_grad: Callable[[np.ndarray, Any], Any]
    block_grads: Callable[..., Any]
    dx_block: Callable[..., np.ndarray]
    record_widths: Callable[[int], tuple[int, ...]]
    part_widths: Callable[[int, dict], tuple[int, ...]]


def blocks(T: int) -> list[tuple[int, int]]:
    """The blocks [s, e) of BLOCK steps, aligned to t = 0 (the last may be shorter)."""
    return [(s, min(s + BLOCK, T)) for s in range(0, T, BLOCK)]


class Projector:
    """u_t for any step, computed one aligned block at a time; keeps the `keep` most recent blocks."""

    def __init__(self, kernel: Kernel, x: np.ndarray, p: Any, opt: dict, keep: int = 2):
        self.kernel, self.x, self.p, self.opt, self.keep = kernel, x, p, opt, keep
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.projected_steps = 0  # steps whose projection was computed (recomputations included)
        self.peak_bytes = 0  # the most bytes of projection blocks held at once
        self.block_bytes = 0  # the largest single block

    def block_of(self, t: int) -> np.ndarray:
        k = t // BLOCK
        if k in self.cache:
            self.cache.move_to_end(k)
            return self.cache[k]
        s, e = k * BLOCK, min((k + 1) * BLOCK, self.x.shape[0])
        u = self.kernel.project(self.x[s:e], self.p, self.opt)
        self.projected_steps += e - s
        self.cache[k] = u
        self.block_bytes = max(self.block_bytes, u.nbytes)
        while len(self.cache) > self.keep:
            self.cache.popitem(last=False)
        self.peak_bytes = max(self.peak_bytes, sum(a.nbytes for a in self.cache.values()))
        return u

    def __call__(self, t: int) -> np.ndarray:
        return self.block_of(t)[t % BLOCK]


def _add(acc: Any, g: Any) -> Any:
    return g if acc is None else type(acc)(*(a + b for a, b in zip(acc, g)))


class Backprop:
    """The backward pass, fed one step at a time in the order t = T-1, ..., 0.

    Holds the gradient carried to the earlier steps, one block of per-step gradients and the
    previous hidden states of that block, the running weight gradients and dx (T, B, D).
    """

    def __init__(
        self, kernel: Kernel, x: np.ndarray, dhs: np.ndarray, state0: Any, p: Any, opt: dict, keep_gs: bool = False
    ):
        T, B, _ = x.shape
        H = dhs.shape[-1]
        self.kernel, self.x, self.dhs, self.p, self.opt = kernel, x, dhs, p, opt
        self.dh = np.zeros((B, H), dtype=dhs.dtype)
        self.carry = kernel.zero_carry(state0)
        n = min(BLOCK, T)
        self.parts = [np.empty((n, B, w), dtype=dhs.dtype) for w in kernel.part_widths(H, opt)]
        self.hprev = np.empty((n, B, H), dtype=dhs.dtype)
        self.dx = np.empty(x.shape, dtype=x.dtype)
        self.gs = np.empty_like(dhs) if keep_gs else None
        self.grads: Any = None
        self.next_t = T - 1
        self.buffer_bytes = sum(a.nbytes for a in self.parts) + self.hprev.nbytes

    def step(self, t: int, rec_t: tuple[np.ndarray, ...], state_prev: Any) -> None:
        if t != self.next_t:
            raise RuntimeError(f"backward step {t} out of order (expected {self.next_t})")
        self.next_t = t - 1
        g = self.dhs[t] + self.dh
        if self.gs is not None:
            self.gs[t] = g
        parts_t, self.dh, self.carry = self.kernel.back_step(g, self.carry, rec_t, state_prev, self.p, self.opt)
        j = t % BLOCK
        for buf, part in zip(self.parts, parts_t):
            buf[j] = part
        self.hprev[j] = self.kernel.hidden(state_prev)
        if j == 0:
            s = t
            e = min(s + BLOCK, self.x.shape[0])
            n = e - s
            parts_blk = tuple(buf[:n] for buf in self.parts)
            finite = np.isfinite(parts_blk[0]).all(axis=(1, 2))
            if not finite.all():
                step = s + int(np.flatnonzero(~finite)[-1])  # the latest step: where it entered, going back
                raise FloatingPointError(
                    f"dh (gradient flowing back): non-finite value (NaN or inf) at time step {step}"
                )
            self.grads = _add(
                self.grads, self.kernel.block_grads(parts_blk, self.x[s:e], self.hprev[:n], self.p, self.opt)
            )
            self.dx[s:e] = self.kernel.dx_block(parts_blk, self.p)

    def result(self) -> tuple[np.ndarray, Any, Any]:
        """(dx, the gradient of the initial state, the weight gradients) once step 0 is done."""
        if self.next_t != -1:
            raise RuntimeError(f"backward pass stopped at step {self.next_t + 1}, not at 0")
        return self.dx, self.kernel.state_grad(self.dh, self.carry), self.grads


def forward(kernel: Kernel, x: np.ndarray, state0: Any, p: Any, opt: dict) -> tuple[np.ndarray, ...]:
    """All steps, every record kept: arrays (T, B, w) in the order of the kernel's records."""
    T, B, _ = x.shape
    H = kernel.hidden(state0).shape[-1]
    records = tuple(np.empty((T, B, w), dtype=x.dtype) for w in kernel.record_widths(H))
    u = Projector(kernel, x, p, opt, keep=1)
    state = state0
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by the caller, with its step
        for t in range(T):
            state, rec = kernel.step(u(t), state, p, opt)
            for arr, r in zip(records, rec):
                arr[t] = r
    return records


def backward(
    kernel: Kernel,
    dhs: np.ndarray,
    x: np.ndarray,
    state0: Any,
    records: tuple[np.ndarray, ...],
    p: Any,
    opt: dict,
    keep_gs: bool = False,
) -> tuple[Backprop, tuple[np.ndarray, Any, Any]]:
    """Full BPTT from every kept record; returns the driver (for its gs) and (dx, dstate0, grads)."""
    bp = Backprop(kernel, x, dhs, state0, p, opt, keep_gs)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by the caller, with its step
        for t in range(x.shape[0] - 1, -1, -1):
            rec_t = tuple(a[t] for a in records)
            state_prev = state0 if t == 0 else kernel.state_of(tuple(a[t - 1] for a in records))
            bp.step(t, rec_t, state_prev)
    return bp, bp.result()
