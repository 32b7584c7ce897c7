"""Diagrams shared by the lessons: an RNN unrolled over time.

``draw_unrolled`` draws onto a matplotlib Axes that the caller owns. It uses no
pyplot state and changes no rcParams, so the same call gives the same picture.

Layout (time steps are columns, numbered as in the maths, t = 1..T; h_0 sits in
column 0)::

    L_1     L_2    ...  L_T        loss at each step (or only L_T)
     |       |           |
    y_1     y_2    ...  y_T        readout  y_t = W_hy h_t + b_y
     | W_hy  |           |
    h_0 -> h_1 -> h_2 -> ... -> h_T  recurrence, W_hh on every arrow
            | W_xh |          |
           x_1    x_2   ...  x_T
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from bpttlab._checks import check_bool, check_int, check_positive_int, check_type

FORWARD_COLOR = "0.15"
BACKWARD_COLOR = "tab:red"
HIGHLIGHT_COLOR = "#fde9a9"
WINDOW_COLOR = "tab:blue"
NODE_COLOR = "white"

_BOX_W, _BOX_H = 0.56, 0.36
_DX = 1.4  # distance between time steps
_ROW = {"x": 0.0, "h": 1.1, "y": 2.2, "L": 3.1}
_BACK_SHIFT = 0.13  # backward arrows run beside the forward ones


class UnrolledDiagram(NamedTuple):
    """What ``draw_unrolled`` drew, for captions, tests and later annotation.

    nodes: box of each node by name (``"h_0"``, ``"x_3"``, ``"h_3"``, ``"y_3"``, ``"L_3"``).
    forward: forward arrows, in drawing order.
    backward: gradient arrows (empty unless ``show_backward``).
    window: the shaded truncation window, or None.
    """

    nodes: dict[str, FancyBboxPatch]
    forward: tuple[FancyArrowPatch, ...]
    backward: tuple[FancyArrowPatch, ...]
    window: Rectangle | None


def _highlighted(highlight: Any, T: int) -> frozenset[int]:
    """highlight: None or an iterable of time steps in 0..T."""
    if highlight is None:
        return frozenset()
    if isinstance(highlight, (str, bytes)) or not isinstance(highlight, Iterable):
        raise TypeError(f"highlight: expected a set of time steps in 0..{T}, got {type(highlight).__name__}")
    return frozenset(check_int("highlight", t, 0, T) for t in highlight)


def _span(window: Any, T: int) -> tuple[int, int] | None:
    """window: None or a pair (start, stop) of time steps with 0 <= start <= stop <= T."""
    if window is None:
        return None
    check_type("window", window, tuple, "a pair (start, stop) of time steps")
    if len(window) != 2:
        raise ValueError(f"window: expected a pair (start, stop) of time steps, got {window!r}")
    start = check_int("window[0] (start)", window[0], 0, T)
    stop = check_int("window[1] (stop)", window[1], 0, T)
    if start > stop:
        raise ValueError(f"window: expected start <= stop, got {window!r}")
    return start, stop


def _arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str, gid: str, style: str = "-"
) -> FancyArrowPatch:
    arrow = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>",
        mutation_scale=11,
        linewidth=1.2,
        color=color,
        linestyle=style,
        shrinkA=0,
        shrinkB=0,
        zorder=2,
    )
    arrow.set_gid(gid)
    ax.add_patch(arrow)
    return arrow


def draw_unrolled(
    ax: Axes,
    T: int,
    *,
    show_backward: bool = False,
    loss_per_step: bool = True,
    highlight: Iterable[int] | None = None,
    window: tuple[int, int] | None = None,
    window_label: str | None = None,
    weight_labels: bool = True,
) -> UnrolledDiagram:
    """Draw h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h), y_t = W_hy h_t + b_y unrolled over T steps.

    - ax: the matplotlib Axes to draw on (its limits are set; its axis is hidden).
    - T: number of time steps, >= 1. Nodes: h_0, then x_t, h_t for t = 1..T.
    - show_backward: also draw the gradient arrows (red, dashed), right to left along
      the h-chain and down from each loss.
    - loss_per_step: a readout y_t and loss L_t at every step (sequence to sequence);
      if False, only y_T and L_T at the last step (sequence to one).
    - highlight: time steps in 0..T whose nodes are filled and outlined (0 is h_0).
    - window: (start, stop), shade the columns of steps start..stop, both included
      (0 <= start <= stop <= T), e.g. the k steps a truncated backward pass reaches.
    - window_label: text written at the top of the shaded window (needs ``window``).
    - weight_labels: write W_xh, W_hh, W_hy beside the arrows and a note that they
      are shared.

    Returns an UnrolledDiagram. With n = T if loss_per_step else 1, it draws
    1 + 2T + 2n node boxes, 2T + 2n forward arrows and, if show_backward, 2n + T
    backward arrows. Each patch has a gid ("node:h_3", "fwd:W_hh:3", "bwd:W_hh:3",
    "window") so that a later lesson can restyle part of the picture.
    """
    check_type("ax", ax, Axes, "a matplotlib Axes")
    T = check_positive_int("T", T)
    show_backward = check_bool("show_backward", show_backward)
    loss_per_step = check_bool("loss_per_step", loss_per_step)
    weight_labels = check_bool("weight_labels", weight_labels)
    marked = _highlighted(highlight, T)
    span = _span(window, T)
    if window_label is not None:
        check_type("window_label", window_label, str, "a str or None")
        if span is None:
            raise ValueError("window_label: given without a window; pass window=(start, stop) too")

    out_steps = range(1, T + 1) if loss_per_step else range(T, T + 1)
    nodes: dict[str, FancyBboxPatch] = {}
    forward: list[FancyArrowPatch] = []
    backward: list[FancyArrowPatch] = []
    hw, hh = _BOX_W / 2, _BOX_H / 2
    label_size = 9 if T <= 8 else 8

    def node(kind: str, t: int) -> None:
        name = f"{kind}_{t}"
        cx, cy = t * _DX, _ROW[kind]
        box = FancyBboxPatch(
            (cx - hw, cy - hh),
            _BOX_W,
            _BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.06",
            facecolor=HIGHLIGHT_COLOR if t in marked else NODE_COLOR,
            edgecolor=FORWARD_COLOR,
            linewidth=2.0 if t in marked else 1.0,
            zorder=3,
        )
        box.set_gid(f"node:{name}")
        ax.add_patch(box)
        ax.text(cx, cy, f"${kind}_{{{t}}}$", ha="center", va="center", fontsize=11, zorder=4)
        nodes[name] = box

    def label(xy: tuple[float, float], text: str, **kw: Any) -> None:
        if weight_labels:
            ax.text(*xy, text, fontsize=label_size, color=FORWARD_COLOR, zorder=4, **kw)

    # nodes
    node("h", 0)
    for t in range(1, T + 1):
        node("x", t)
        node("h", t)
    for t in out_steps:
        node("y", t)
        node("L", t)

    # forward arrows: input, recurrence, readout, loss
    for t in range(1, T + 1):
        c = t * _DX
        forward.append(_arrow(ax, (c, _ROW["x"] + hh), (c, _ROW["h"] - hh), FORWARD_COLOR, f"fwd:W_xh:{t}"))
        label((c - 0.06, (_ROW["x"] + _ROW["h"]) / 2), "$W_{xh}$", ha="right", va="center")
        forward.append(_arrow(ax, (c - _DX + hw, _ROW["h"]), (c - hw, _ROW["h"]), FORWARD_COLOR, f"fwd:W_hh:{t}"))
        label((c - _DX / 2, _ROW["h"] + 0.05), "$W_{hh}$", ha="center", va="bottom")
    for t in out_steps:
        c = t * _DX
        forward.append(_arrow(ax, (c, _ROW["h"] + hh), (c, _ROW["y"] - hh), FORWARD_COLOR, f"fwd:W_hy:{t}"))
        label((c - 0.06, (_ROW["h"] + _ROW["y"]) / 2), "$W_{hy}$", ha="right", va="center")
        forward.append(_arrow(ax, (c, _ROW["y"] + hh), (c, _ROW["L"] - hh), FORWARD_COLOR, f"fwd:loss:{t}"))

    # backward arrows: down from each loss, then right to left along the h-chain
    if show_backward:
        s = _BACK_SHIFT
        for t in out_steps:
            c = t * _DX + s
            backward.append(_arrow(ax, (c, _ROW["L"] - hh), (c, _ROW["y"] + hh), BACKWARD_COLOR, f"bwd:loss:{t}", "--"))
            backward.append(_arrow(ax, (c, _ROW["y"] - hh), (c, _ROW["h"] + hh), BACKWARD_COLOR, f"bwd:W_hy:{t}", "--"))
        for t in range(T, 0, -1):
            c = t * _DX
            backward.append(
                _arrow(
                    ax, (c - hw, _ROW["h"] - s), (c - _DX + hw, _ROW["h"] - s), BACKWARD_COLOR, f"bwd:W_hh:{t}", "--"
                )
            )
        handles = [
            Line2D([], [], color=FORWARD_COLOR, label="forward"),
            Line2D([], [], color=BACKWARD_COLOR, linestyle="--", label="backward (gradients)"),
        ]
        ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, ncols=2, bbox_to_anchor=(0.0, 1.08))

    # truncation window
    shade = None
    if span is not None:
        start, stop = span
        shade = Rectangle(
            (start * _DX - 0.5 * _DX + 0.05, _ROW["x"] - hh - 0.12),
            (stop - start + 1) * _DX - 0.1,
            _ROW["L"] - _ROW["x"] + _BOX_H + 0.24,
            facecolor=WINDOW_COLOR,
            alpha=0.12,
            edgecolor=WINDOW_COLOR,
            linewidth=1.0,
            zorder=1,
        )
        shade.set_gid("window")
        ax.add_patch(shade)
        if window_label is not None:
            ax.text(
                (start + stop) / 2 * _DX,
                _ROW["L"] + hh + 0.1,
                window_label,
                ha="center",
                va="bottom",
                fontsize=label_size + 1,
                color=WINDOW_COLOR,
            )

    bottom = _ROW["x"] - hh - 0.2
    if weight_labels:
        ax.text(
            T * _DX / 2,
            bottom,
            "the same $W_{xh}$, $W_{hh}$, $W_{hy}$ (and $b_h$, $b_y$) at every step",
            ha="center",
            va="top",
            fontsize=label_size + 1,
            color="0.35",
        )
    ax.set_xlim(-0.5 * _DX, (T + 0.5) * _DX)
    ax.set_ylim(bottom - 0.4, _ROW["L"] + hh + (0.45 if window_label is not None else 0.15))
    ax.set_aspect("equal")
    ax.set_axis_off()
    return UnrolledDiagram(nodes, tuple(forward), tuple(backward), shade)
