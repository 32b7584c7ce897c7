"""Parameter initialisation with an explicit numpy.random.Generator (no global RNG)."""

from __future__ import annotations

import inspect

import numpy as np

from bpttlab._checks import (
    check_choice,
    check_dtype_arg,
    check_finite,
    check_generator,
    check_number,
    check_optional,
    check_positive_int,
    check_type,
)
from bpttlab.params import GRUParams, LSTMParams, MLPParams, ReadoutParams, RNNParams

DTYPES = (np.float32, np.float64)


def _dtype(dtype: object) -> np.dtype:
    return check_dtype_arg("dtype", dtype)


def gaussian(
    rng: np.random.Generator, shape: int | tuple[int, ...], fan_in: float, dtype: object = np.float64
) -> np.ndarray:
    """Entries drawn from N(0, 1/fan_in). shape: an int or a tuple of positive ints; fan_in: a positive number."""
    check_generator("rng", rng)
    if isinstance(shape, tuple):
        shape = tuple(check_positive_int(f"shape[{k}]", n) for k, n in enumerate(shape))
    else:
        check_type("shape", shape, (int, np.integer, tuple), "a tuple of positive ints")
        shape = check_positive_int("shape", shape)
    fan_in = check_number("fan_in", fan_in, positive=True)
    dtype = _dtype(dtype)
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype)


RECURRENT_SCHEMES = ("gaussian", "orthogonal", "identity")


def orthogonal(rng: np.random.Generator, n: int, dtype: object = np.float64) -> np.ndarray:
    """A random n x n orthogonal matrix (QR of a Gaussian matrix, signs fixed so it is Haar-distributed)."""
    n = check_positive_int("n", n)
    check_generator("rng", rng)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(_dtype(dtype))


def _square(W: object, kinds: str) -> np.ndarray:
    """W: a square, non-empty, finite matrix (H, H) whose dtype kind is in ``kinds``."""
    if not isinstance(W, np.ndarray):
        raise TypeError(f"W: expected a square numpy.ndarray (H, H), got {type(W).__name__}")
    if W.dtype.kind not in kinds:
        what = "float32 or float64" if kinds == "f" else "real numbers (an int or float dtype)"
        raise TypeError(f"W: expected {what}, got dtype {W.dtype}")
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.size == 0:
        raise ValueError(f"W: expected a square 2-axis array (H, H) with H >= 1, got shape {W.shape}")
    check_finite("W", W)
    return W


def spectral_radius(W: np.ndarray) -> float:
    """max ``|eigenvalue|`` of a square real matrix (int or float entries)."""
    _square(W, "iuf")
    return float(np.max(np.abs(np.linalg.eigvals(W.astype(np.float64)))))


def rescale_spectral_radius(W: np.ndarray, radius: float) -> np.ndarray:
    """W scaled by a positive factor so that its spectral radius equals ``radius``; W float32 or float64, kept."""
    _square(W, "f")  # an int matrix would be truncated back to ints (mostly zeros)
    radius = check_number("radius", radius, positive=True)
    current = spectral_radius(W)
    if current == 0.0:
        raise ValueError("W: has spectral radius 0 (nilpotent or zero); it cannot be rescaled to a radius")
    return (W * (radius / current)).astype(W.dtype)


def init_rnn(
    D: int,
    H: int,
    rng: np.random.Generator,
    dtype: object = np.float64,
    recurrent_scale: float = 1.0,
    scheme: str = "gaussian",
    radius: float | None = None,
) -> RNNParams:
    """W_xh ~ N(0, 1/D), b_h = 0, and W_hh by ``scheme``:

    - "gaussian": N(0, recurrent_scale^2 / H) (spectral radius near recurrent_scale for large H);
    - "orthogonal": recurrent_scale * a random orthogonal matrix (Saxe et al. 2014);
    - "identity": recurrent_scale * I (Le, Jaitly & Hinton 2015).

    With ``radius`` set, W_hh is then rescaled to that spectral radius.
    """
    D, H = check_positive_int("D", D), check_positive_int("H", H)
    check_generator("rng", rng)
    check_choice("scheme", scheme, RECURRENT_SCHEMES)
    dtype = _dtype(dtype)
    recurrent_scale = check_number("recurrent_scale", recurrent_scale)
    check_optional(check_number, "radius", radius, positive=True)
    W_xh = gaussian(rng, (H, D), D, dtype)
    if scheme == "gaussian":
        W_hh = recurrent_scale * gaussian(rng, (H, H), H, np.float64)
    elif scheme == "orthogonal":
        W_hh = recurrent_scale * orthogonal(rng, H)
    else:
        W_hh = recurrent_scale * np.eye(H)
    if radius is not None:
        W_hh = rescale_spectral_radius(W_hh, radius)
    return RNNParams(W_xh=W_xh, W_hh=W_hh.astype(dtype), b_h=np.zeros(H, dtype=dtype))


def init_readout(H: int, O: int, rng: np.random.Generator, dtype: object = np.float64) -> ReadoutParams:
    """W_hy ~ N(0, 1/H), b_y = 0."""
    H, O = check_positive_int("H", H), check_positive_int("O", O)
    check_generator("rng", rng)
    dtype = _dtype(dtype)
    return ReadoutParams(W_hy=gaussian(rng, (O, H), H, dtype), b_y=np.zeros(O, dtype=dtype))


def init_mlp(
    D: int, H: int, O: int, rng: np.random.Generator, dtype: object = np.float64, activation: str = "tanh"
) -> MLPParams:
    """W_1 ~ N(0, g/D), W_2 ~ N(0, 1/H), zero biases; g = 2 for relu (He), 1 otherwise."""
    D, H, O = (check_positive_int(n, v) for n, v in (("D", D), ("H", H), ("O", O)))
    check_generator("rng", rng)
    check_choice("activation", activation, ("tanh", "sigmoid", "relu"))
    dtype = _dtype(dtype)
    gain = 2.0 if activation == "relu" else 1.0
    return MLPParams(
        W_1=(np.sqrt(gain) * gaussian(rng, (H, D), D, np.float64)).astype(dtype),
        b_1=np.zeros(H, dtype=dtype),
        W_2=gaussian(rng, (O, H), H, dtype),
        b_2=np.zeros(O, dtype=dtype),
    )


def init_lstm(
    D: int, H: int, rng: np.random.Generator, dtype: object = np.float64, forget_bias: float = 1.0
) -> LSTMParams:
    """W_x ~ N(0, 1/D), W_h: four orthogonal H x H blocks, b = 0 except the forget block = forget_bias.

    A positive forget-gate bias keeps the cell state's path open at the start of training
    (Gers et al. 2000; Jozefowicz et al. 2015). Blocks in torch order [i, f, g, o].
    """
    D, H = check_positive_int("D", D), check_positive_int("H", H)
    check_generator("rng", rng)
    dtype = _dtype(dtype)
    forget_bias = check_number("forget_bias", forget_bias)
    b = np.zeros(4 * H)
    b[H : 2 * H] = forget_bias
    W_h = np.concatenate([orthogonal(rng, H) for _ in range(4)], axis=0)
    return LSTMParams(gaussian(rng, (4 * H, D), D, dtype), W_h.astype(dtype), b.astype(dtype))


def init_gru(D: int, H: int, rng: np.random.Generator, dtype: object = np.float64) -> GRUParams:
    """W_x ~ N(0, 1/D), W_h: three orthogonal H x H blocks, zero biases. Blocks in torch order [r, z, n]."""
    D, H = check_positive_int("D", D), check_positive_int("H", H)
    check_generator("rng", rng)
    dtype = _dtype(dtype)
    W_h = np.concatenate([orthogonal(rng, H) for _ in range(3)], axis=0)
    zeros = np.zeros(3 * H, dtype=dtype)
    return GRUParams(gaussian(rng, (3 * H, D), D, dtype), W_h.astype(dtype), zeros, zeros.copy())


def init_cell(cell: str, D: int, H: int, rng: np.random.Generator, dtype: object = np.float64, **options) -> object:
    """Parameters for a cell of bpttlab.cells ("rnn", "lstm", "gru"); options go to its initialiser
    (init_rnn, init_lstm, init_gru, as the registry names it)."""
    from bpttlab import cells

    make = cells.get(cell).initialiser()
    allowed = [n for n in inspect.signature(make).parameters if n not in ("D", "H", "rng", "dtype")]
    for name in options:
        if name not in allowed:
            raise TypeError(f"{name}: not an option of {make.__name__} (its options: {', '.join(allowed) or 'none'})")
    return make(D, H, rng, dtype, **options)
