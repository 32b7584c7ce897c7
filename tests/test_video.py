"""Seeded synthetic videos: bouncing balls obey the reflection law and are drawn where they are;
motion clips hide the class in every single frame and reveal it in any two consecutive ones."""

from __future__ import annotations

import numpy as np
import pytest

from bpttlab import video
from bpttlab.video import DIRECTIONS, action_task, bouncing_balls, motion_clips, next_frame_task, render


def gen(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def fold(u: np.ndarray, low: float, high: float) -> np.ndarray:
    """Free motion u folded into [low, high] by mirror reflections (a triangle wave of period 2 (high - low))."""
    width = high - low
    y = np.mod(u - low, 2 * width)
    return low + np.where(y <= width, y, 2 * width - y)


def circular_centroid(frames: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre (row, col) of blobs on a torus: (..., S, S) -> (..., 2), in [0, S)."""
    S = frames.shape[-1]
    phase = np.exp(2j * np.pi * np.arange(S) / S)
    rows = (frames.sum(axis=-1) * phase).sum(axis=-1)
    cols = (frames.sum(axis=-2) * phase).sum(axis=-1)
    return np.mod(np.angle(np.stack([rows, cols], axis=-1)) * S / (2 * np.pi), S)


def wrapped(d: np.ndarray, S: int) -> np.ndarray:
    """A displacement on a torus of side S, in [-S/2, S/2)."""
    return np.mod(d + S / 2, S) - S / 2


# ----------------------------------------------------------------- bouncing balls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bouncing_balls_shapes_dtype_and_range(dtype):
    v = bouncing_balls(9, 4, gen(), size=12, n_balls=3, radius=1.5, dtype=dtype)
    assert v.frames.shape == (9, 4, 12, 12) and v.frames.dtype == dtype
    assert v.centres.shape == (9, 4, 3, 2) and v.centres.dtype == np.float64
    assert v.frames.min() >= 0.0 and v.frames.max() <= 1.0
    # the pixel nearest a centre is at most 0.71 px away, inside the fully lit core of radius r - 0.5 = 1
    assert np.all(v.frames.max(axis=(2, 3)) == 1.0)
    # and the frames are the rendering of the centres
    np.testing.assert_array_equal(v.frames, render(v.centres, 12, 1.5).astype(dtype))


def test_bouncing_balls_is_reproducible_with_a_seed():
    a, b = bouncing_balls(20, 3, gen(7)), bouncing_balls(20, 3, gen(7))
    c = bouncing_balls(20, 3, gen(8))
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.centres, b.centres)
    assert not np.allclose(a.centres, c.centres)


def test_balls_stay_inside_the_frame_even_at_the_largest_allowed_speed():
    size, radius = 10, 1.5
    top = size - 1 - 2 * radius  # the largest speed the generator accepts
    v = bouncing_balls(300, 40, gen(3), size=size, n_balls=2, radius=radius, speed_range=(0.5 * top, top))
    assert v.centres.min() >= radius - 1e-12
    assert v.centres.max() <= size - 1 - radius + 1e-12


def test_each_coordinate_follows_the_reflection_law_at_constant_speed():
    """Free motion at constant velocity, mirrored at the walls: a reflection flips only the
    component normal to the wall it hits, so |v| is the same at every step."""
    size, radius, lo, hi = 16, 1.5, 0.5, 1.5
    c = bouncing_balls(80, 30, gen(11), size=size, n_balls=2, radius=radius, speed_range=(lo, hi)).centres
    low, high = radius, size - 1 - radius
    t = np.arange(c.shape[0])[:, None, None, None]
    vabs = np.abs(np.diff(c, axis=0)).max(axis=0)  # |v| per component: the step of any non-bouncing frame
    errors = [np.abs(fold(c[0] + sign * vabs * t, low, high) - c).max(axis=0) for sign in (1.0, -1.0)]
    assert np.minimum(*errors).max() < 1e-9  # each coordinate is the folded straight line (one sign fits)
    speed = np.linalg.norm(vabs, axis=-1)
    assert speed.min() >= lo - 1e-12 and speed.max() <= hi + 1e-12
    # there were reflections to test: in many coordinates the direction flips during the clip
    flips = (np.diff(np.sign(np.diff(c, axis=0)), axis=0) != 0).any(axis=0)
    assert flips.mean() > 0.5


def test_a_reflection_flips_the_normal_component_and_keeps_the_other():
    """A ball that hits the right wall: its column step changes sign, its row step stays the same."""
    size, radius = 16, 1.5
    high = size - 1 - radius
    rng = gen(0)
    for _ in range(500):  # draw until the second step of a clip reaches the right wall, and no other wall
        c = bouncing_balls(4, 1, rng, size=size, radius=radius, speed_range=(1.0, 1.0)).centres[:, 0, 0]
        d0 = c[1] - c[0]
        if c[1, 1] < high < c[1, 1] + d0[1] and (radius + 3 < c[:, 0]).all() and (c[:, 0] < high - 3).all():
            break
    else:
        pytest.fail("no clip bounced off the right wall in 500 draws")
    d1, d2 = c[2] - c[1], c[3] - c[2]
    assert d0[1] > 0
    assert d1[0] == pytest.approx(d0[0], abs=1e-12) and d2[0] == pytest.approx(d0[0], abs=1e-12)  # row untouched
    # column: during the bounce the ball travels |v_c| in total, to the wall and back; then it moves back
    assert (high - c[1, 1]) + (high - c[2, 1]) == pytest.approx(d0[1], abs=1e-12)
    assert d2[1] == pytest.approx(-d0[1], abs=1e-12)


def test_the_drawn_blob_is_centred_on_the_centre():
    """The intensity-weighted centroid of the blob equals ``centres`` within 0.1 px, wherever the
    whole blob (radius + 0.5) lies inside the frame. The residual (about 0.05 px) is the sampling of
    an anti-aliased disc on the pixel grid; a blob drawn one pixel off would miss by 1 px."""
    size, radius = 16, 1.5
    v = bouncing_balls(40, 100, gen(5), size=size, radius=radius, dtype=np.float64)
    f, c = v.frames, v.centres[:, :, 0]
    grid = np.arange(size)
    mass = f.sum(axis=(2, 3))
    centroid = np.stack([(f.sum(axis=3) * grid).sum(-1) / mass, (f.sum(axis=2) * grid).sum(-1) / mass], axis=-1)
    margin = radius + 0.5
    inside = ((c > margin) & (c < size - 1 - margin)).all(axis=-1)
    assert inside.sum() > 1000  # enough frames away from the walls
    assert np.abs(centroid - c)[inside].max() < 0.1


# ----------------------------------------------------------------- motion clips


def test_motion_clips_shapes_labels_and_values():
    frames, labels = motion_clips(5, 400, gen(2), size=12)
    assert frames.shape == (5, 400, 12, 12) and frames.dtype == np.float32
    assert labels.shape == (400,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(len(DIRECTIONS)))
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    a, b = motion_clips(5, 20, gen(9)), motion_clips(5, 20, gen(9))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_a_single_frame_does_not_tell_the_class():
    """Statistics of one frame have the same mean in every class: each pixel, the total brightness
    and the blob's row and column autocorrelations (its shape) agree with their overall mean within
    5 standard errors (about 600 comparisons: the largest of as many normal deviates is about 3.5).
    The same test on statistics of two frames (their correlation at a one-pixel shift in each
    direction) tells the classes apart by far more than 5: the test has the power to see a difference."""
    S = 12
    frames, labels = motion_clips(2, 6000, gen(4), size=S, dtype=np.float64)

    def largest_z(features):  # (N, F) -> the largest |class mean - overall mean| / standard error
        mean, sd = features.mean(axis=0), features.std(axis=0)
        z = [np.abs(features[labels == k].mean(axis=0) - mean) / (sd / np.sqrt((labels == k).sum())) for k in range(4)]
        return np.max(z)

    def shifted_product(a, b, shift, axis):  # sum over pixels of a * (b moved by shift along axis)
        return (a * np.roll(b, shift, axis=axis)).sum(axis=(-2, -1))

    for f in frames:
        single = np.concatenate(
            [
                f.reshape(len(f), -1),
                f.sum(axis=(1, 2))[:, None],
                shifted_product(f, f, 1, -2)[:, None],
                shifted_product(f, f, 1, -1)[:, None],
            ],
            axis=1,
        )
        assert largest_z(single) < 5.0
    pair = np.stack([shifted_product(frames[1], frames[0], s, a) for s in (1, -1) for a in (-2, -1)], axis=1)
    assert largest_z(pair) > 20.0


@pytest.mark.parametrize("speed", [1.0, 0.7, 1.3])
def test_two_consecutive_frames_tell_the_direction_of_every_clip(speed):
    """The blob's centroid on the torus moves by speed * direction between any two frames, to 0.05 px
    (exact for a whole-pixel step, where a frame is the previous one rolled; about 0.035 px otherwise,
    from sampling the disc on the grid)."""
    S = 16
    frames, labels = motion_clips(4, 500, gen(6), size=S, speed=speed, dtype=np.float64)
    centre = circular_centroid(frames)  # (T, B, 2)
    step = wrapped(np.diff(centre, axis=0), S)  # (T - 1, B, 2)
    expected = np.array([video._STEP[d] for d in DIRECTIONS])[labels] * speed
    assert np.abs(step - expected[None]).max() < 0.05
    # and the direction read off the displacement is the label, for every clip and every pair of frames
    unit = np.array([video._STEP[d] for d in DIRECTIONS])  # (4, 2)
    assert np.all((step @ unit.T).argmax(axis=-1) == labels[None])


# ----------------------------------------------------------------- task layouts


def test_next_frame_task_layout():
    v = bouncing_balls(6, 3, gen(1), size=8, radius=1.0)
    task = next_frame_task(v.frames)
    assert task.x.shape == task.y.shape == (5, 3, 64) and task.loss == "mse"
    np.testing.assert_array_equal(task.x, v.frames[:-1].reshape(5, 3, 64))
    np.testing.assert_array_equal(task.y, v.frames[1:].reshape(5, 3, 64))
    np.testing.assert_array_equal(task.y[:-1], task.x[1:])  # the target of step t is the input of step t + 1
    assert task.mask.shape == (5, 3) and np.all(task.mask == 1) and task.mask.dtype == v.frames.dtype


def test_action_task_layout():
    frames, labels = motion_clips(7, 5, gen(1), size=8)
    task = action_task(frames, labels)
    assert task.x.shape == (7, 5, 64) and task.loss == "xent"
    np.testing.assert_array_equal(task.x, frames.reshape(7, 5, 64))
    assert task.y.shape == (7, 5) and np.all(task.y == labels[None])
    assert task.mask.shape == (7, 5)
    np.testing.assert_array_equal(task.mask[-1], np.ones(5))
    assert task.mask[:-1].sum() == 0  # the clip is judged only at its last frame
    task.y[0, 0] = 99  # y is its own array, not a broadcast view of labels
    assert labels[0] != 99


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(T=0), ValueError, "T"),
        (dict(B=0), ValueError, "B"),
        (dict(T=2.5), TypeError, "T"),
        (dict(n_balls=0), ValueError, "n_balls"),
        (dict(radius=7.5), ValueError, "radius"),  # (size - 1) / 2 = 7.5 for size 16
        (dict(radius=0.0), ValueError, "radius"),
        (dict(speed_range=(0.5, 12.5)), ValueError, "speed_range"),  # above size - 1 - 2 radius = 12
        (dict(speed_range=(2.0, 1.0)), ValueError, "speed_range"),
        (dict(speed_range=(-1.0, 1.0)), ValueError, "speed_range"),
        (dict(rng=np.random.RandomState(0)), TypeError, "rng"),
        (dict(rng=0), TypeError, "rng"),
    ],
)
def test_bouncing_balls_rejects_bad_arguments(kwargs, error, name):
    args = dict(T=4, B=2, rng=gen(), size=16, radius=1.5) | kwargs
    with pytest.raises(error, match=rf"^{name}: expected"):
        bouncing_balls(**args)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(T=1), ValueError, "T"),
        (dict(B=0), ValueError, "B"),
        (dict(size=0), ValueError, "size"),
        (dict(speed=8.0), ValueError, "speed"),  # size / 2 = 8 for size 16
        (dict(speed=0.0), ValueError, "speed"),
        (dict(rng=None), TypeError, "rng"),
    ],
)
def test_motion_clips_rejects_bad_arguments(kwargs, error, name):
    args = dict(T=4, B=2, rng=gen(), size=16) | kwargs
    with pytest.raises(error, match=rf"^{name}: expected"):
        motion_clips(**args)


def test_tasks_reject_wrong_shapes():
    frames, labels = motion_clips(3, 4, gen(), size=8)
    with pytest.raises(ValueError, match=r"^frames: expected .*T >= 2"):
        next_frame_task(frames[:1])
    with pytest.raises(ValueError, match=r"^frames: expected"):
        next_frame_task(frames[0])
    with pytest.raises(TypeError, match=r"^frames: expected a numpy.ndarray"):
        next_frame_task(frames.tolist())
    with pytest.raises(ValueError, match=r"^frames: expected"):
        action_task(frames.reshape(3, 4, 64), labels)
    with pytest.raises(ValueError, match=r"^labels: expected .*\(4,\)"):
        action_task(frames, labels[:3])
    with pytest.raises(TypeError, match=r"^labels: expected an integer numpy.ndarray"):
        action_task(frames, list(labels))
    with pytest.raises(ValueError, match=r"^radius: expected"):
        render(np.zeros((1, 2)), 8, -1.0)
