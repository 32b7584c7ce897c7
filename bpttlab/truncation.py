"""The window schedule of truncated BPTT, TBPTT(k1, k2), written once for every loop.

Williams & Peng (1990): every k1 steps, the losses of those k1 steps are backpropagated
k2 steps into the past (k1 <= k2). Chunk c covers the loss steps [first_loss, stop) with
first_loss = c k1 and stop = min(first_loss + k1, T); its backward window starts at
start = max(0, stop - k2), from a state whose own history is cut. Full BPTT is k1 = k2 = T:
one window [0, T).

``bpttlab.numpy.seq``, both training loops, ``bpttlab.torch.seq`` and the lesson's
schedule figure all read their windows from :func:`windows`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bpttlab._checks import check_positive_int


class Window(NamedTuple):
    """One chunk of TBPTT(k1, k2): forward from ``start``, losses of steps [first_loss, stop)."""

    start: int
    first_loss: int
    stop: int


def check_truncation(T: Any, k1: Any, k2: Any) -> tuple[int, int]:
    """Resolve (k1, k2) for a sequence of T steps: k1 None means T (full BPTT), k2 None means k1.

    Requires 1 <= k1 <= k2. Values above T act like T.
    """
    T = check_positive_int("T", T)
    k1 = T if k1 is None else check_positive_int("k1", k1)
    k2 = k1 if k2 is None else check_positive_int("k2", k2)
    if k2 < k1:
        raise ValueError(
            f"k2: expected k2 >= k1 = {k1} (each chunk's losses must lie inside its backward window), got {k2}"
        )
    return k1, k2


def windows(T: Any, k1: Any = None, k2: Any = None) -> list[Window]:
    """The windows of TBPTT(k1, k2) over T steps, in time order.  (T, k1, k2) -> [Window, ...]."""
    k1, k2 = check_truncation(T, k1, k2)
    out = []
    for first_loss in range(0, int(T), k1):
        stop = min(first_loss + k1, int(T))
        out.append(Window(max(0, stop - k2), first_loss, stop))
    return out
