"""Tests for bpttlab.plotting: what draw_unrolled draws, and what it rejects."""

import matplotlib

matplotlib.use("Agg")  # headless, for the tests only

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from bpttlab.plotting import draw_unrolled


@pytest.fixture
def ax():
    fig, ax = plt.subplots(figsize=(6, 3))
    yield ax
    plt.close(fig)


def _gids(ax, prefix):
    return [p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith(prefix)]


@pytest.mark.parametrize("T", [1, 2, 5])
@pytest.mark.parametrize("loss_per_step", [True, False])
@pytest.mark.parametrize("show_backward", [True, False])
def test_counts_of_boxes_and_arrows(ax, T, loss_per_step, show_backward):
    d = draw_unrolled(ax, T, loss_per_step=loss_per_step, show_backward=show_backward)
    n = T if loss_per_step else 1
    assert len(d.nodes) == 1 + 2 * T + 2 * n
    assert len(d.forward) == 2 * T + 2 * n
    assert len(d.backward) == ((2 * n + T) if show_backward else 0)
    # what is on the Axes matches what is returned
    assert len(_gids(ax, "node:")) == len(d.nodes)
    assert len(_gids(ax, "fwd:")) == len(d.forward)
    assert len(_gids(ax, "bwd:")) == len(d.backward)
    assert all(isinstance(b, FancyBboxPatch) for b in d.nodes.values())
    assert all(isinstance(a, FancyArrowPatch) for a in d.forward + d.backward)
    # one recurrent arrow per step, h_0 -> h_1 included, each labelled by the shared W_hh
    assert sorted(_gids(ax, "fwd:W_hh:")) == sorted(f"fwd:W_hh:{t}" for t in range(1, T + 1))
    assert {"h_0", f"x_{T}", f"h_{T}", f"y_{T}", f"L_{T}"} <= set(d.nodes)
    assert d.window is None


def test_recurrent_arrows_run_forward_left_to_right_and_backward_right_to_left(ax):
    d = draw_unrolled(ax, 4, show_backward=True)
    for arrows, prefix in ((d.forward, "fwd:W_hh:"), (d.backward, "bwd:W_hh:")):
        for a in arrows:
            if not a.get_gid().startswith(prefix):
                continue
            t = int(a.get_gid().rsplit(":", 1)[1])
            start_x = a.get_path().vertices[0, 0]
            left, right = d.nodes[f"h_{t - 1}"], d.nodes[f"h_{t}"]
            if prefix == "fwd:W_hh:":  # leaves h_{t-1} on its right edge
                assert np.isclose(start_x, left.get_x() + left.get_width(), atol=0.05)
            else:  # leaves h_t on its left edge
                assert np.isclose(start_x, right.get_x(), atol=0.05)


def test_highlight_and_window(ax):
    d = draw_unrolled(ax, 5, highlight={0, 3}, window=(2, 4), window_label="k = 3")
    filled = {name for name, box in d.nodes.items() if box.get_facecolor() != d.nodes["h_1"].get_facecolor()}
    assert filled == {"h_0", "x_3", "h_3", "y_3", "L_3"}
    assert d.window is not None and d.window.get_gid() == "window"
    # the shading covers the columns of steps 2..4 and not those of 1 and 5
    x2 = d.nodes["h_2"].get_x() + d.nodes["h_2"].get_width() / 2
    x4 = d.nodes["h_4"].get_x() + d.nodes["h_4"].get_width() / 2
    x1 = d.nodes["h_1"].get_x() + d.nodes["h_1"].get_width() / 2
    x5 = d.nodes["h_5"].get_x() + d.nodes["h_5"].get_width() / 2
    left, right = d.window.get_x(), d.window.get_x() + d.window.get_width()
    assert x1 < left < x2 and x4 < right < x5
    assert "k = 3" in [t.get_text() for t in ax.texts]


def test_same_call_same_picture():
    def draw():
        fig, ax = plt.subplots(figsize=(6, 3), dpi=50)
        draw_unrolled(ax, 3, show_backward=True, window=(1, 2))
        fig.canvas.draw()
        img = np.asarray(fig.canvas.buffer_rgba()).copy()
        plt.close(fig)
        return img

    assert np.array_equal(draw(), draw())


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"T": 0}, ValueError, "T"),
        ({"T": 2.0}, TypeError, "T"),
        ({"T": 3, "highlight": {4}}, ValueError, "highlight"),
        ({"T": 3, "highlight": {-1}}, ValueError, "highlight"),
        ({"T": 3, "highlight": 2}, TypeError, "highlight"),
        ({"T": 3, "window": (2, 1)}, ValueError, "window"),
        ({"T": 3, "window": (1, 4)}, ValueError, "window"),
        ({"T": 3, "window": (1, 2, 3)}, ValueError, "window"),
        ({"T": 3, "window_label": "k"}, ValueError, "window_label"),
        ({"T": 3, "show_backward": "yes"}, TypeError, "show_backward"),
        ({"T": 3, "loss_per_step": 1}, TypeError, "loss_per_step"),
    ],
)
def test_rejects_bad_arguments(ax, kwargs, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        draw_unrolled(ax, **kwargs)


def test_rejects_non_axes():
    with pytest.raises(TypeError, match="^ax:"):
        draw_unrolled(None, 3)
