"""Animated PNGs: the right frames, size and timing, read back with Pillow; tiling clips side by side."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bpttlab.animation import apng_bytes, is_animated_png, tile_frames


def moving_dot(T: int = 5, h: int = 6, w: int = 7) -> np.ndarray:
    """A grey dot moving right over a dim background: every frame differs from the one before."""
    frames = np.full((T, h, w), 0.2)
    for t in range(T):
        frames[t, 2, t % w] = 1.0
    return frames


def read_frames(data: bytes) -> tuple[Image.Image, list[np.ndarray], list[float]]:
    im = Image.open(io.BytesIO(data))
    pixels, durations = [], []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        pixels.append(np.array(im.convert("L")))
        durations.append(im.info.get("duration"))
    return im, pixels, durations


def png_still() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4, 3), 128).save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------- apng_bytes


def test_apng_has_every_frame_at_the_right_size_and_timing():
    frames = moving_dot(T=5, h=6, w=7)
    data = apng_bytes(frames, scale=3, duration_ms=120)
    assert is_animated_png(data)
    im, pixels, durations = read_frames(data)
    assert im.format == "PNG" and im.n_frames == 5 and im.is_animated
    assert im.size == (7 * 3, 6 * 3)  # PIL sizes are (width, height)
    assert im.info.get("loop") == 0  # loops forever
    assert durations == [120] * 5
    # each frame is the clip, inverted (dark blobs on light) and each pixel drawn as a 3 x 3 block
    expected = 255 - (frames * 255).round().astype(np.uint8)
    for t in range(5):
        np.testing.assert_array_equal(pixels[t], expected[t].repeat(3, axis=0).repeat(3, axis=1))


def test_apng_clips_values_outside_the_unit_interval():
    frames = np.array([[[-0.5, 0.0], [1.0, 7.0]], [[0.5, 0.5], [0.5, 0.5]]])
    _, pixels, _ = read_frames(apng_bytes(frames, scale=1))
    np.testing.assert_array_equal(pixels[0], [[255, 255], [0, 0]])
    np.testing.assert_array_equal(pixels[1], np.full((2, 2), 127))  # 255 - round(127.5) = 255 - 128


def test_repeated_frames_keep_the_playing_time():
    """Pillow merges a frame identical to the one before into it and adds up their durations: what plays is the
    same clip, for T * duration_ms in all."""
    frames = moving_dot(T=4)
    frames[2] = frames[1]
    _, pixels, durations = read_frames(apng_bytes(frames, scale=1, duration_ms=100))
    assert sum(durations) == 4 * 100
    assert len(pixels) == 3 and durations == [100, 200, 100]
    np.testing.assert_array_equal(pixels[2], 255 - (frames[3] * 255).round().astype(np.uint8))


def test_a_single_frame_is_a_still_png():
    data = apng_bytes(moving_dot(T=1), scale=2)
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and getattr(im, "n_frames", 1) == 1 and im.size == (14, 12)
    assert not is_animated_png(data)


# ----------------------------------------------------------------- is_animated_png


def test_is_animated_png_tells_animations_from_stills_and_other_formats():
    assert is_animated_png(apng_bytes(moving_dot(T=2)))
    assert not is_animated_png(png_still())
    gif = io.BytesIO()
    Image.new("L", (4, 3)).save(gif, format="GIF")
    assert not is_animated_png(gif.getvalue())
    assert not is_animated_png(b"")
    assert not is_animated_png(b"acTL" + bytes(8))  # the chunk name alone is not a PNG


# ----------------------------------------------------------------- tile_frames


def test_tile_frames_puts_clips_side_by_side_with_light_gaps():
    rng = np.random.default_rng(0)
    clips = [rng.uniform(size=(4, 5, 5)) for _ in range(3)]
    tiled = tile_frames(clips, gap=2)
    assert tiled.shape == (4, 5, 3 * 5 + 2 * 2)
    for i, clip in enumerate(clips):
        np.testing.assert_array_equal(tiled[:, :, i * 7 : i * 7 + 5], clip)
    np.testing.assert_array_equal(tiled[:, :, 5:7], 1.0)
    np.testing.assert_array_equal(tiled[:, :, 12:14], 1.0)
    np.testing.assert_array_equal(tile_frames(clips, gap=0), np.concatenate(clips, axis=2))
    np.testing.assert_array_equal(tile_frames(clips[:1]), clips[0])
    assert tile_frames(clips).shape == (4, 5, 17)  # default gap 1
    # tiled clips make one animation
    assert Image.open(io.BytesIO(apng_bytes(tiled, scale=2))).size == (38, 10)


# ----------------------------------------------------------------- bad input


def test_bad_frames_are_refused():
    frames = moving_dot()
    bad = frames.copy()
    bad[3, 1, 1] = np.nan
    with pytest.raises(FloatingPointError, match=r"^frames: non-finite"):
        apng_bytes(bad)
    bad[3, 1, 1] = np.inf
    with pytest.raises(FloatingPointError, match=r"^frames: non-finite"):
        apng_bytes(bad)
    with pytest.raises(ValueError, match=r"^frames: expected an array \(T, h, w\)"):
        apng_bytes(frames[0])
    with pytest.raises(ValueError, match=r"^frames: expected an array \(T, h, w\)"):
        apng_bytes(frames[..., None])
    with pytest.raises(ValueError, match=r"^frames: expected an array \(T, h, w\) with T >= 1"):
        apng_bytes(frames[:0])
    with pytest.raises(TypeError, match=r"^frames: expected"):
        apng_bytes(frames.tolist())
    with pytest.raises(ValueError, match=r"^scale: expected"):
        apng_bytes(frames, scale=0)
    with pytest.raises(ValueError, match=r"^duration_ms: expected"):
        apng_bytes(frames, duration_ms=0)


def test_bad_clips_are_refused_by_tile_frames():
    clip = np.zeros((4, 5, 5))
    with pytest.raises(ValueError, match=r"^rows: expected at least one clip"):
        tile_frames([])
    with pytest.raises(ValueError, match=r"^rows\[1\]: expected an array \(T, S, S\) with T = 4"):
        tile_frames([clip, clip[0]])
    with pytest.raises(ValueError, match=r"^rows\[1\]: expected"):
        tile_frames([clip, clip[:3]])
    with pytest.raises(ValueError, match=r"^rows\[1\]: expected .*S = 5"):
        tile_frames([clip, np.zeros((4, 6, 6))])
    with pytest.raises(ValueError, match=r"^rows\[0\]: expected"):
        tile_frames([clip[0, 0], clip])
    with pytest.raises(TypeError, match=r"^rows\[0\]: expected"):
        tile_frames([clip.tolist()])
    with pytest.raises(ValueError, match=r"^gap: expected an int in \[0, inf\]"):
        tile_frames([clip, clip], gap=-1)
    with pytest.raises(TypeError, match=r"^gap: expected"):
        tile_frames([clip, clip], gap=1.5)
