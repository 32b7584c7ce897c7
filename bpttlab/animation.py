"""Animations that play in a web page and in Jupyter: animated PNG (APNG) files made with Pillow.

An APNG is an ordinary PNG to every tool that does not animate it (its first frame
shows), and modern browsers play it in a plain <img>. In a notebook,
``IPython.display.Image(data=apng_bytes(...), format="png")`` shows it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from bpttlab._checks import check_finite, check_int, check_positive_int, check_real_array, check_type


def tile_frames(rows: Sequence[np.ndarray], gap: int = 1) -> np.ndarray:
    """Put several clips side by side: each (T, S, S) in [0, 1] -> (T, S, n*S + (n-1)*gap), gaps set to 1."""
    check_type("rows", rows, (list, tuple), "a list of clips (T, S, S)")
    if not rows:
        raise ValueError("rows: expected at least one clip (T, S, S)")
    gap = check_int("gap", gap, 0)
    T, S = (tuple(getattr(rows[0], "shape", ())) + (None, None))[:2]
    for i, r in enumerate(rows):
        check_type(f"rows[{i}]", r, np.ndarray, "an array (T, S, S)")
        check_real_array(f"rows[{i}]", r)
        if r.ndim != 3 or r.shape[:2] != (T, S) or r.size == 0:
            raise ValueError(
                f"rows[{i}]: expected an array (T, S, S) with T = {T}, S = {S}, got {getattr(r, 'shape', None)}"
            )
        check_finite(f"rows[{i}]", r)
    parts = []
    for i, r in enumerate(rows):
        if i:
            parts.append(np.ones((T, r.shape[1], gap)))
        parts.append(r)
    return np.concatenate(parts, axis=2)


def apng_bytes(frames: np.ndarray, scale: int = 8, duration_ms: int = 150) -> bytes:
    """An animated PNG of grey frames (T, h, w) with values in [0, 1], each pixel drawn as scale x scale.

    Values outside [0, 1] are clipped; dark is 0. The animation loops forever.
    """
    check_type("frames", frames, np.ndarray, "an array (T, h, w) of grey values in [0, 1]")
    check_real_array("frames", frames)
    if frames.ndim != 3 or frames.shape[0] < 1 or frames.size == 0:
        raise ValueError(f"frames: expected an array (T, h, w) with T >= 1, got {getattr(frames, 'shape', None)}")
    if not np.all(np.isfinite(frames)):
        raise FloatingPointError("frames: non-finite pixel values cannot be drawn")
    scale = check_positive_int("scale", scale)
    duration_ms = check_positive_int("duration_ms", duration_ms)
    pixels = (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(255 - p, mode="L") for p in pixels]  # dark balls on a light background
    buf = io.BytesIO()
    images[0].save(buf, format="PNG", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def is_animated_png(data: bytes) -> bool:
    """True if ``data`` is a PNG with an animation control chunk (acTL) and more than one frame."""
    check_type("data", data, (bytes, bytearray), "bytes")
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    i = data.find(b"acTL")
    return i > 0 and int.from_bytes(data[i + 4 : i + 8], "big") > 1
