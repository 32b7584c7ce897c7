"""Seeded synthetic videos: bouncing balls for next-frame prediction, moving blobs for action recognition.

Frames are float arrays with values in [0, 1], time-first: (T, B, S, S) for S x S pixels.
Nothing is downloaded; every clip is drawn from the Generator passed in.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bpttlab._checks import (
    check_bool,
    check_dtype_arg,
    check_finite,
    check_float_array,
    check_float_input,
    check_generator,
    check_int_array,
    check_interval,
    check_number,
    check_positive_int,
    check_shape,
)
from bpttlab.tasks import TaskBatch

DIRECTIONS = ("right", "left", "down", "up")
_STEP = {"right": (0.0, 1.0), "left": (0.0, -1.0), "down": (1.0, 0.0), "up": (-1.0, 0.0)}


class Video(NamedTuple):
    """frames (T, B, S, S) in [0, 1]; centres (T, B, n, 2) as (row, column) in pixels."""

    frames: np.ndarray
    centres: np.ndarray


def render(centres: np.ndarray, size: int, radius: float, wrap: bool = False) -> np.ndarray:
    """Anti-aliased discs: pixel value clip(radius + 0.5 - distance, 0, 1), max over discs.

    centres (..., n, 2) -> frames (..., size, size). With ``wrap`` distances are taken on a torus.
    """
    size = check_positive_int("size", size)
    radius = check_number("radius", radius, positive=True)
    wrap = check_bool("wrap", wrap)
    check_float_input("centres", centres, "(..., n, 2)", 2)
    if centres.shape[-1] != 2:
        raise ValueError(
            f"centres: expected (row, column) pairs on the last axis (..., n, 2), got shape {centres.shape}"
        )
    grid = np.arange(size, dtype=np.float64)
    dr = grid[:, None] - centres[..., 0, None, None]  # (..., n, S, 1)
    dc = grid[None, :] - centres[..., 1, None, None]  # (..., n, 1, S)
    if wrap:
        dr = (dr + size / 2) % size - size / 2
        dc = (dc + size / 2) % size - size / 2
    dist = np.sqrt(dr**2 + dc**2)
    return np.clip(radius + 0.5 - dist, 0.0, 1.0).max(axis=-3)


def bouncing_balls(
    T: int,
    B: int,
    rng: np.random.Generator,
    size: int = 16,
    n_balls: int = 1,
    radius: float = 1.5,
    speed_range: tuple[float, float] = (0.5, 1.5),
    dtype: object = np.float32,
) -> Video:
    """Balls moving at constant speed and bouncing off the walls of an S x S frame.

    Each ball starts at a uniform position with a uniform direction and a speed drawn
    from speed_range (pixels per frame); it is reflected when its centre would leave
    [radius, S - 1 - radius]. Balls pass through each other.
    """
    T, B = check_positive_int("T", T), check_positive_int("B", B)
    size, n_balls = check_positive_int("size", size), check_positive_int("n_balls", n_balls)
    check_generator("rng", rng)
    lo, hi = check_interval("speed_range", speed_range, low=0.0, open_low=False)
    radius = check_number("radius", radius)
    dtype = check_dtype_arg("dtype", dtype)
    if not 0 < radius < (size - 1) / 2:
        raise ValueError(f"radius: expected 0 < radius < (size - 1) / 2 = {(size - 1) / 2}, got {radius}")
    low, high = radius, size - 1 - radius
    if hi > high - low:  # one reflection per step keeps a ball inside only if it moves at most the free width
        raise ValueError(
            f"speed_range: expected speeds of at most size - 1 - 2 radius = {high - low} pixels per frame, "
            f"got {speed_range}"
        )
    pos = rng.uniform(low, high, size=(B, n_balls, 2))
    angle = rng.uniform(0.0, 2 * np.pi, size=(B, n_balls))
    speed = rng.uniform(lo, hi, size=(B, n_balls))
    vel = np.stack([np.sin(angle), np.cos(angle)], axis=-1) * speed[..., None]
    centres = np.empty((T, B, n_balls, 2))
    for t in range(T):
        centres[t] = pos
        pos = pos + vel
        for bound, beyond in ((low, pos < low), (high, pos > high)):
            pos = np.where(beyond, 2 * bound - pos, pos)
            vel = np.where(beyond, -vel, vel)
    return Video(render(centres, size, radius).astype(dtype), centres)


def next_frame_task(frames: np.ndarray) -> TaskBatch:
    """Predict frame t + 1 from frames 1..t: x = frames[:-1], y = frames[1:], flattened to (T - 1, B, S*S)."""
    check_float_array("frames", frames, ("T", "B", "S", "S"))
    if frames.shape[0] < 2:
        raise ValueError(
            f"frames: expected T >= 2 frames (T, B, S, S) to predict one from another, got shape {frames.shape}"
        )
    check_finite("frames", frames, time_axis=0)
    T, B = frames.shape[:2]
    flat = frames.reshape(T, B, -1)
    return TaskBatch(flat[:-1], flat[1:], np.ones((T - 1, B), dtype=frames.dtype), "mse")


def motion_clips(
    T: int,
    B: int,
    rng: np.random.Generator,
    size: int = 16,
    radius: float = 2.0,
    speed: float = 1.0,
    dtype: object = np.float32,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Action clips: one blob moving right, left, down or up (classes 0-3, see DIRECTIONS).

    The frame wraps around (a torus) and the start is uniform, so every single frame
    is a blob at a uniformly random place whatever the class: only the change between
    frames tells the direction. Returns frames (T, B, S, S) and labels (B,) int64.
    labels: the classes of the B clips, (B,) ints in 0-3 (for example a balanced test set);
    None draws them uniformly from rng.
    """
    T, B, size = check_positive_int("T", T), check_positive_int("B", B), check_positive_int("size", size)
    check_generator("rng", rng)
    if T < 2:
        raise ValueError(f"T: expected at least 2 frames (motion needs two), got {T}")
    speed = check_number("speed", speed)
    if not 0 < speed < size / 2:
        raise ValueError(f"speed: expected 0 < speed < size / 2 pixels per frame, got {speed}")
    radius = check_number("radius", radius, positive=True)
    dtype = check_dtype_arg("dtype", dtype)
    if labels is None:
        labels = rng.integers(0, len(DIRECTIONS), size=B)
    else:
        check_int_array("labels", labels, ("B",), low=0, high=len(DIRECTIONS) - 1)
        check_shape("labels", labels, (B,), ("B",))
    start = rng.uniform(0.0, size, size=(B, 2))
    steps = np.array([_STEP[d] for d in DIRECTIONS])[labels] * speed  # (B, 2)
    centres = (start[None] + np.arange(T)[:, None, None] * steps[None]) % size  # (T, B, 2)
    frames = render(centres[:, :, None, :], size, radius, wrap=True)
    return frames.astype(dtype), labels.astype(np.int64)


def action_task(frames: np.ndarray, labels: np.ndarray) -> TaskBatch:
    """Classify a clip at its last frame: x (T, B, S*S), y (T, B) with the label at every step, mask on the last."""
    check_float_array("frames", frames, ("T", "B", "S", "S"))
    check_finite("frames", frames, time_axis=0)
    T, B = frames.shape[:2]
    check_int_array("labels", labels, ("B",), low=0)
    check_shape("labels", labels, (B,), ("B",))
    mask = np.zeros((T, B), dtype=frames.dtype)
    mask[-1] = 1.0
    return TaskBatch(frames.reshape(T, B, -1), np.broadcast_to(labels, (T, B)).copy(), mask, "xent")
